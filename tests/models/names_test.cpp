// The error for a model name that is not known answers with the name given,
// the names of its own family and the closest of them.
#include "models/names.h"

#include <gtest/gtest.h>

#include "models/mapet.h"
#include "models/vit.h"

namespace mapet {
namespace {

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(ModelNames, ShortMapetNameIsAnsweredWithItselfAndItsFamily) {
  const std::string m = error_of([] { models::mapet_config("mapet_tiny"); });
  EXPECT_NE(m.find("unknown model 'mapet_tiny'"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'mapet_tiny_patch16_224'"), std::string::npos) << m;
  EXPECT_NE(m.find("mapet_base_patch16_224"), std::string::npos) << m;
  EXPECT_EQ(m.find("vit_standard"), std::string::npos) << "a name the user never typed: " << m;
}

TEST(ModelNames, ClassifierNameGivenToPretrainingPointsToThePretrainingModel) {
  const std::string m = error_of([] { models::mapet_config("vit_standard_small_patch16_224"); });
  EXPECT_NE(m.find("unknown model 'vit_standard_small_patch16_224'"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'mapet_small_patch16_224'"), std::string::npos) << m;
}

TEST(ModelNames, MisspelledClassifierNameGetsTheClosest) {
  const std::string m = error_of([] { models::vit_config("vit_standard_smal_patch16_224"); });
  EXPECT_NE(m.find("unknown model 'vit_standard_smal_patch16_224'"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean 'vit_standard_small_patch16_224'"), std::string::npos) << m;
  EXPECT_NE(m.find("vit_standard_tiny_patch16_224"), std::string::npos) << m;
}

TEST(ModelNames, KnownNamesStillWork) {
  for (const std::string& n : models::vit_model_names()) EXPECT_NO_THROW(models::vit_config(n)) << n;
  for (const std::string& n : models::mapet_model_names()) EXPECT_NO_THROW(models::mapet_config(n)) << n;
  EXPECT_EQ(models::mapet_config("mapet_base_patch16_224").vit.embed_dim, 768);
}

TEST(ModelNames, ClosestByEditDistance) {
  const std::vector<std::string> known{"alpha", "beta", "gamma"};
  EXPECT_EQ(models::closest_name("betta", known), "beta");
  EXPECT_EQ(models::closest_name("gam", known), "gamma");
  EXPECT_EQ(models::closest_name("alpah", known), "alpha");
}

}  // namespace
}  // namespace mapet
