#include "data/splits.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "engine/tensor.h"

namespace mapet::data {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kEval{"val", "valid", "validation", "eval", "evaluation"};
const std::vector<std::string> kTrain{"train", "training"};

bool in(const std::vector<std::string>& names, const std::string& s) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

}  // namespace

std::string find_split_folder(const std::string& root, const std::string& split) {
  if (!split.empty() && fs::is_directory(fs::path(root) / split)) return (fs::path(root) / split).string();
  for (const auto* synonyms : {&kEval, &kTrain})
    if (in(*synonyms, split))
      for (const std::string& s : *synonyms)
        if (fs::is_directory(fs::path(root) / s)) return (fs::path(root) / s).string();
  return "";
}

std::string split_folder(const std::string& root, const std::string& split) {
  const std::string found = find_split_folder(root, split);
  if (!found.empty()) return found;
  std::string others;
  for (const auto* names : {&kTrain, &kEval})
    for (const std::string& s : *names)
      if (fs::is_directory(fs::path(root) / s)) others += (others.empty() ? "" : ", ") + s + "/";
  if (!others.empty())
    throw Error("DATA '" + root + "' has split folders (" + others + ") but none for the " + split + " split (" +
                (in(kTrain, split) ? "train/, training/" : in(kEval, split) ? "val/, valid/, validation/, ..." : split + "/") +
                "); read as one ImageFolder, its split folders would be taken for classes");
  return root;
}

}  // namespace mapet::data
