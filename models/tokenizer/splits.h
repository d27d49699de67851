// What `mapet tokenize DATA` tokenizes: DATA is either a folder with a
// training and/or a validation sub-folder (each an ImageFolder, as `mapet
// prepare` writes train/ and val/; found by the rule of data/splits.h that
// every command uses), or one dataset (an ImageFolder folder, or a CSV of
// path,label). Each split is named after its folder or CSV file ("train",
// "val", ...); its tokens go to OUT/<name>.tokens.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mapet::tokenizer {

struct Split {
  std::string name;
  data::Dataset dataset;
};

std::vector<Split> find_splits(const std::string& data, const std::string& root = "");

// The split k-means samples from: "train" when there is one, else the first.
const Split& training_split(const std::vector<Split>& splits);

}  // namespace mapet::tokenizer
