#include "models/names.h"

#include <algorithm>
#include <limits>

namespace mapet::models {

const std::vector<std::string>& vit_model_names() {
  static const std::vector<std::string> names{"vit_standard_tiny_patch16_224", "vit_standard_small_patch16_224",
                                              "vit_standard_base_patch16_224"};
  return names;
}

const std::vector<std::string>& mapet_model_names() {
  static const std::vector<std::string> names{"mapet_tiny_patch16_224", "mapet_small_patch16_224",
                                              "mapet_base_patch16_224"};
  return names;
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string closest_name(const std::string& name, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const std::string& k : known) {
    // A shortened name (`mapet_tiny`) is nearest to the name it starts.
    const size_t d = !name.empty() && k.rfind(name, 0) == 0 ? 0 : edit_distance(name, k);
    if (d < best_d) best = k, best_d = d;
  }
  return best;
}

Error unknown_model(const std::string& name, const std::vector<std::string>& known) {
  std::string list;
  for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
  return Error("unknown model '" + name + "' (known: " + list + "); did you mean '" + closest_name(name, known) + "'?");
}

}  // namespace mapet::models
