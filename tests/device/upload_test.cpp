// device::Uploader: batches through pinned staging on a copy stream, in turn
// through two slots, shapes that change between batches.
#include <gtest/gtest.h>

#include "engine/cuda/upload.h"
#include "tests/device/equivalence.h"

namespace mapet {
namespace {

TEST(DeviceUploader, BatchesArriveWithTheirValuesShapesAndDtypes) {
  device::Uploader up;
  for (int i = 0; i < 5; ++i) {
    const int64_t b = i == 3 ? 2 : 4;  // the last batch of an epoch is smaller
    const Tensor images = test::random_tensor({b, 3, 8, 8}, 10 + i);
    std::vector<int64_t> ids(b * 16);
    for (size_t k = 0; k < ids.size(); ++k) ids[k] = static_cast<int64_t>(k * 7 + i);
    const Tensor tokens = Tensor::from_vector(ids, {b, 16});
    const Tensor strided = images.slice(1, 1, 2);  // a view: uploaded contiguous
    const std::vector<Tensor> got = up.upload({images, tokens, Tensor(), strided});
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].device(), Device::cuda);
    EXPECT_EQ(got[0].shape(), images.shape());
    EXPECT_EQ(got[0].to_vector(), images.to_vector()) << "batch " << i;
    EXPECT_EQ(got[1].dtype(), DType::i64);
    const Tensor back = got[1].to(Device::cpu);
    EXPECT_EQ(std::vector<int64_t>(back.data<int64_t>(), back.data<int64_t>() + back.numel()), ids) << "batch " << i;
    EXPECT_FALSE(got[2].defined());
    EXPECT_EQ(got[3].to_vector(), strided.contiguous().to_vector());
  }
  EXPECT_GT(up.pinned_bytes(), 0u);
}

TEST(DeviceUploader, ABatchOnTheDeviceIsRefusedByName) {
  device::Uploader up;
  const Tensor on_device = test::random_tensor({2, 2}, 1).to(Device::cuda);
  try {
    up.upload({test::random_tensor({2}, 2), on_device});
    FAIL() << "a device tensor was staged";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("field 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mapet
