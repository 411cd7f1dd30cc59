#include <gtest/gtest.h>

#include "core/tensor.h"
#include "test_util.h"

namespace moeasr {
namespace {

TEST(TensorTest, OwnedTensorIsAlignedAndSized) {
  Tensor t({3, 5});
  EXPECT_EQ(t.numel(), 15);
  EXPECT_EQ(t.nbytes(), 60u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_EQ(t.dim(-1), 5);
}

TEST(TensorTest, CopiesShareStorageAndCloneDoesNot) {
  Tensor a = Tensor::zeros({4});
  Tensor b = a;
  Tensor c = a.clone();
  a.data<float>()[2] = 7.f;
  EXPECT_EQ(b.data<float>()[2], 7.f);
  EXPECT_EQ(c.data<float>()[2], 0.f);
}

TEST(TensorTest, ResizeKeepsBufferWhenItFits) {
  Tensor t({100});
  const void* before = t.raw();
  t.resize({10, 5});
  EXPECT_EQ(t.raw(), before);
  t.resize({1000});
  EXPECT_EQ(t.numel(), 1000);
}

TEST(TensorTest, ReshapeMustKeepElementCount) {
  Tensor t({6});
  t.reshape({2, 3});
  EXPECT_EQ(t.dim(0), 2);
  EXPECT_EQ(test::status_of([&] { t.reshape({4}); }), MOEASR_ERR_INTERNAL);
}

TEST(TensorTest, AbsurdShapesAreRejectedBeforeAllocating) {
  EXPECT_EQ(test::status_of([] { Tensor t({int64_t{1} << 40, int64_t{1} << 40}); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(test::status_of([] { Tensor t({int64_t{1} << 61}); }), MOEASR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(test::status_of([] { Tensor t({-1}); }), MOEASR_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace moeasr
