// The model names each family answers to, and the error for a name that is
// not one of them: it repeats the name the user typed, lists the family's
// names and suggests the closest one (e.g. `mapet_tiny` -> mapet_tiny_patch16_224).
#pragma once
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace mapet::models {

// Classifiers: vit_standard_{tiny,small,base}_patch16_224.
const std::vector<std::string>& vit_model_names();
// Pre-training models: mapet_{tiny,small,base}_patch16_224.
const std::vector<std::string>& mapet_model_names();

// The name of `known` nearest to `name` (edit distance; a prefix of a name counts as nearest).
std::string closest_name(const std::string& name, const std::vector<std::string>& known);
// "unknown model 'NAME' (known: ...); did you mean 'CLOSEST'?"
Error unknown_model(const std::string& name, const std::vector<std::string>& known);

}  // namespace mapet::models
