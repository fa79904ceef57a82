// Sizes that come from outside the program (a checkpoint's config line, --config, a file's
// header) are multiplied with checked arithmetic and bounded by named limits, so that absurd
// values end in an Error naming them, never in a wrapped size, a write past a buffer or a hang.
//
// Issue #17 found a 312-byte checkpoint whose config reads `mlp ... hidden=4611686018427387904`
// making `sample` write past a heap buffer (Shape::numel and the storage's byte count wrapped),
// and `hidden=2^60 temb=2` hanging in the caching allocator's size-class loop (sizes of 2^63
// bytes or more). Each test below failed before its fix.
#include <cstdint>
#include <limits>

#include "diffusion/app/classifier.h"
#include "diffusion/network.h"
#include "nn/mlp.h"
#include "nn/unet.h"
#include "tensor/caching_allocator.h"
#include "tensor/storage.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;

constexpr int64_t k2to62 = int64_t{1} << 62;

TEST(Sizes, ShapeNumelOverflowIsAnError) {
  EXPECT_EQ(Shape({int64_t{1} << 31, int64_t{1} << 31}).numel(), int64_t{1} << 62);
  // 2^62 x 4 = 2^64: wrapped to 0 before, so a tensor of this shape had no storage at all.
  expect_error([] { Shape({k2to62, 4}).numel(); }, {"[4611686018427387904, 4]", "64 bits"});
  expect_error([] { empty({k2to62, 2, 2}); }, {"4611686018427387904"});
  expect_error([] { contiguous_strides(Shape({4, k2to62, 2})); }, {"64 bits"});
}

TEST(Sizes, StorageByteCountOverflowIsAnError) {
  // 2^62 floats are 2^64 bytes: the byte count wrapped to 0 and 512 bytes were handed out.
  expect_error([] { Storage(size_t{1} << 62, Device::CPU); }, {"4611686018427387904 floats"});
}

TEST(Sizes, AllocatorRefusesBlocksPastItsLimitWithoutHanging) {
  using A = CachingAllocator;
  EXPECT_EQ(A::size_class(A::kMaxBytes), A::kMaxBytes);  // a power of two is its own class
  // Sizes of 2^63 bytes or more made the size-class loop double a power of two past 2^63, to 0,
  // forever: before the fix this test never returned.
  for (size_t bytes : {A::kMaxBytes + 1, size_t{1} << 63, std::numeric_limits<size_t>::max()})
    expect_error([&] { A::size_class(bytes); }, {std::to_string(bytes), "one block"});
  expect_error([] { Storage(size_t{1} << 61, Device::CPU); }, {"9223372036854775808 bytes"});
}

TEST(Sizes, AllocatorCapacityBoundsWhatLiveBlocksHold) {
  CachingAllocator a([](size_t b) { return std::malloc(b); }, [](void* p) { std::free(p); },
                     "test");
  a.set_capacity(4096);
  void* p = a.allocate(3000);  // class 3072
  expect_error([&] { a.allocate(2000); }, {"out of test memory", "2000 bytes", "3072", "4096"});
  a.release(p);
  void* q = a.allocate(4096);  // the freed block no longer counts
  a.release(q);
  a.empty_cache();
}

// A config line names every out-of-range size, before any network is built from it.
TEST(Sizes, ConfigLinesOutOfRangeAreRefusedByName) {
  const std::string huge = std::to_string(k2to62);
  expect_error([&] { nn::MLPConfig::parse("mlp dim=2 hidden=" + huge + " layers=3 temb=8 classes=0"); },
               {"MLPConfig", "hidden=" + huge, "outside [1, 16384]"});
  expect_error([] { nn::MLPConfig::parse("mlp dim=2 hidden=1152921504606846976 layers=3 temb=2 classes=0"); },
               {"hidden=1152921504606846976"});
  expect_error([] { nn::MLPConfig::parse("mlp dim=2 hidden=8 layers=100000 temb=8 classes=0"); },
               {"layers=100000"});
  expect_error([] { nn::UNetConfig::parse("unet in=1 size=28 base=64 mult=1,1024 blocks=1 attn=none heads=1 dropout=0 classes=0 groups=8"); },
               {"UNetConfig", "mult=1024", "outside [1, 256]"});
  expect_error([] { nn::UNetConfig::parse("unet in=1 size=1048576 base=8 mult=1 blocks=1 attn=none heads=1 dropout=0 classes=0 groups=8"); },
               {"size=1048576"});
  expect_error([] { diffusion::ClassifierConfig::parse("classifier in=1 size=28 classes=10 width=16 features=4294967296 dropout=0"); },
               {"ClassifierConfig", "features=4294967296"});
  // What a user types as --config goes through the same checks.
  expect_error([&] { diffusion::DiffusionNet::config_for_data("mlp hidden=" + huge, Shape{2}, 0); },
               {"hidden=" + huge});
  // The presets are well inside the limits.
  for (const char* preset : {"small", "cifar", "tiny"})
    EXPECT_NO_THROW(nn::UNetConfig::parse(nn::UNetConfig::preset(preset).to_string()));
}

}  // namespace
}  // namespace mindiff
