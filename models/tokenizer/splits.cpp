#include "models/tokenizer/splits.h"

#include <filesystem>

#include "data/splits.h"
#include "engine/tensor.h"

namespace mapet::tokenizer {

namespace fs = std::filesystem;

std::vector<Split> find_splits(const std::string& data, const std::string& root) {
  std::vector<Split> out;
  if (fs::is_directory(data)) {
    for (const char* split : {"train", "validation"}) {  // the folders every command picks (data/splits.h)
      const std::string folder = data::find_split_folder(data, split);
      if (!folder.empty()) out.push_back({fs::path(folder).filename().string(), data::load_image_folder(folder)});
    }
    if (!out.empty()) return out;
  } else if (!fs::exists(data)) {
    throw Error("DATA '" + data + "' does not exist (expected a folder with train/ and val/, an ImageFolder, or a CSV)");
  }
  fs::path p = fs::path(data);
  std::string name = (p.has_filename() ? p : p.parent_path()).stem().string();
  out.push_back({name.empty() ? "data" : name, data::load_dataset(data, root)});
  return out;
}

const Split& training_split(const std::vector<Split>& splits) {
  for (const Split& s : splits)
    if (s.name == "train") return s;
  return splits.at(0);
}

}  // namespace mapet::tokenizer
