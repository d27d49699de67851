// Which folder a command reads for a split of a dataset folder: the one rule
// pretrain, finetune, validate, tokenize and show-batch share, after timm's
// (DATA/<split>, else a synonym of the split, else DATA itself).
#pragma once
#include <string>

namespace mapet::data {

// The sub-folder of `root` holding `split`: root/<split> when it exists; else,
// for an evaluation split (val, valid, validation, eval, evaluation) the first
// of those that exists, for a training split (train, training) the first of
// those; "" when there is none.
std::string find_split_folder(const std::string& root, const std::string& split);

// What to read for `split`: find_split_folder, else `root` itself (an
// ImageFolder of classes). A root that has other splits' folders (say train/
// but no val/) is refused with an Error naming it: read as an ImageFolder, its
// split folders would become classes and the splits would mix.
std::string split_folder(const std::string& root, const std::string& split);

}  // namespace mapet::data
