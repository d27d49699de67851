#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "engine/checked.h"
#include "engine/tensor.h"

namespace mapet::data {

namespace fs = std::filesystem;

namespace {

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})
    if (ext == e) return true;
  return false;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

uint64_t Dataset::file_list_hash() const {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  };
  for (const Sample& s : samples) mix(s.path + '\t' + std::to_string(s.label) + '\n');
  return h;
}

int64_t Dataset::num_classes() const {
  if (!classes.empty()) return static_cast<int64_t>(classes.size());
  int64_t m = -1;
  for (const Sample& s : samples) m = std::max(m, s.label);
  return m + 1;
}

Dataset load_image_folder(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) throw Error("dataset folder '" + root + "' does not exist or is not a folder");
  Dataset d;
  d.root = root;
  d.source = root;
  for (const auto& e : fs::directory_iterator(root, fs::directory_options::follow_directory_symlink))
    if (e.is_directory()) d.classes.push_back(e.path().filename().string());
  std::sort(d.classes.begin(), d.classes.end());
  if (d.classes.empty()) throw Error("dataset folder '" + root + "' has no class sub-folders (expected root/<class>/<image>)");
  for (size_t label = 0; label < d.classes.size(); ++label) {
    // torchvision: sorted(os.walk(class_dir)) then sorted file names, i.e.
    // ordered by (containing folder, file name).
    std::vector<std::pair<std::string, std::string>> files;
    fs::path dir = fs::path(root) / d.classes[label];
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink);
         it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_directory() || !has_image_extension(it->path())) continue;
      fs::path rel = fs::relative(it->path(), root);
      files.emplace_back(rel.parent_path().string(), rel.filename().string());
    }
    std::sort(files.begin(), files.end());
    for (auto& [folder, name] : files) d.samples.push_back({folder + "/" + name, static_cast<int64_t>(label)});
  }
  if (d.samples.empty()) throw Error("dataset folder '" + root + "' has class folders but no image files in them");
  return d;
}

Dataset load_csv(const std::string& csv_path, const std::string& root) {
  std::ifstream in(csv_path);
  if (!in) throw Error("cannot open dataset CSV '" + csv_path + "'");
  Dataset d;
  d.root = root;
  d.source = csv_path;
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    line = trim(line);
    if (line.empty()) continue;
    size_t comma = line.rfind(',');  // the path may itself contain commas; the label may not
    std::string path = comma == std::string::npos ? line : trim(line.substr(0, comma));
    std::string label_s = comma == std::string::npos ? "" : trim(line.substr(comma + 1));
    int64_t label = 0;
    if (lineno == 1 && path == "path" && label_s == "label") continue;  // header
    if (comma == std::string::npos || path.empty() || !parse_int64(label_s, label) || label < 0 || label >= kMaxClasses)
      throw Error("'" + csv_path + "' line " + std::to_string(lineno) + ": expected `path,label` with an integer label in 0.." +
                  std::to_string(kMaxClasses - 1) + ", got '" + line + "'");
    d.samples.push_back({path, label});
  }
  if (d.samples.empty()) throw Error("dataset CSV '" + csv_path + "' lists no images");
  return d;
}

Dataset load_dataset(const std::string& spec, const std::string& root) {
  fs::path p(spec);
  if (p.extension() == ".csv") {
    std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
    return load_csv(spec, root.empty() ? dir : root);
  }
  return load_image_folder(spec);
}

}  // namespace mapet::data
