// Datasets: a list of (image file, label) in a fixed order. Two sources:
// - ImageFolder (torchvision): root/<class>/**/<image>; classes are the
//   sub-folder names sorted, label = index in that order; files sorted as
//   torchvision walks them. Every file with an image extension torchvision
//   knows is listed (a .png among them then fails loudly at decode time rather
//   than silently disappearing from the index).
// - CSV (the official MaPeT code's format): lines `path,label`, paths relative
//   to a root folder; an optional first line `path,label` is a header.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mapet::data {

struct Sample {
  std::string path;  // relative to the dataset root
  int64_t label = 0;
};

// CSV labels are 0 .. kMaxClasses - 1: a larger one is a damaged line (and would size a head of that many classes).
inline constexpr int64_t kMaxClasses = 1000000;

struct Dataset {
  std::string root;
  std::string source;                // the folder or CSV file it was read from (for messages)
  std::vector<std::string> classes;  // ImageFolder only
  std::vector<Sample> samples;

  size_t size() const { return samples.size(); }
  std::string full_path(size_t i) const { return root + "/" + samples[i].path; }
  // FNV-1a 64 of the (path, label) list in order: ties a token store to the
  // exact list and order it was made from.
  uint64_t file_list_hash() const;
  int64_t num_classes() const;  // classes.size(), or 1 + max label for a CSV
};

// Throws Error naming the folder when it has no class folder or no image.
Dataset load_image_folder(const std::string& root);
// Throws Error naming the CSV file and line for a malformed line.
Dataset load_csv(const std::string& csv_path, const std::string& root);
// `spec` is a folder (ImageFolder) or a .csv file (root: its folder unless given).
Dataset load_dataset(const std::string& spec, const std::string& root = "");

}  // namespace mapet::data
