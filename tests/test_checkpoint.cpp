// Checkpoint format: CRC-32 check values, a bit-exact round trip of every field, and every way a
// file can be wrong (missing, truncated, damaged, foreign, newer, implausible inside), each with
// an Error naming the file and the problem; atomic saving that never damages an existing file.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "nn/checkpoint.h"
#include "data/crc32.h"
#include "data/file_io.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;
using nn::Checkpoint;
using nn::load_checkpoint;
using nn::save_checkpoint;
using test::expect_error;

// ---- CRC-32 ----

TEST(Crc32, StandardCheckValue) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u);
  EXPECT_EQ(crc32("", 0), 0u);
  // "The quick brown fox jumps over the lazy dog": 0x414FA339 (the widely published value).
  const char* fox = "The quick brown fox jumps over the lazy dog";
  EXPECT_EQ(crc32(fox, std::strlen(fox)), 0x414FA339u);
}

TEST(Crc32, SlicedEqualsBytewiseAtEveryLengthAndAlignment) {
  std::vector<unsigned char> buf(300);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 131 + 7);
  for (size_t start = 0; start < 8; ++start)
    for (size_t n = 0; n + start <= buf.size(); n += 13) {
      uint32_t fast = crc32_update(kCrc32Init, buf.data() + start, n);
      uint32_t slow = crc32_update_bytewise(kCrc32Init, buf.data() + start, n);
      ASSERT_EQ(fast, slow) << "start " << start << " length " << n;
    }
  // In pieces, the same as at once.
  uint32_t s = kCrc32Init;
  s = crc32_update(s, buf.data(), 5);
  s = crc32_update(s, buf.data() + 5, 200);
  s = crc32_update(s, buf.data() + 205, 95);
  EXPECT_EQ(crc32_final(s), crc32(buf.data(), buf.size()));
}

// ---- files ----

class CheckpointFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mindiff_ckpt_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  static std::string read_bytes(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void write_bytes(const std::string& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  // Rewrites the trailing CRC so a deliberately malformed file passes the checksum and reaches
  // the parser.
  static void fix_crc(std::string& bytes) {
    uint32_t crc = crc32(bytes.data(), bytes.size() - 4);
    std::memcpy(&bytes[bytes.size() - 4], &crc, 4);
  }

  std::string dir_;
};

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  return x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

void expect_same_tensors(const std::vector<nn::NamedTensor>& a,
                         const std::vector<nn::NamedTensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_TRUE(same_bits(a[i].tensor, b[i].tensor)) << a[i].name;
  }
}

void expect_same_state(const nn::StateDict& a, const nn::StateDict& b) {
  EXPECT_EQ(a.kind, b.kind);
  expect_same_tensors(a.tensors, b.tensors);
  ASSERT_EQ(a.scalars.size(), b.scalars.size());
  for (size_t i = 0; i < a.scalars.size(); ++i) {
    EXPECT_EQ(a.scalars[i].name, b.scalars[i].name);
    EXPECT_EQ(std::memcmp(&a.scalars[i].value, &b.scalars[i].value, sizeof(double)), 0);
  }
}

// A checkpoint with every field filled, like a training run would write: a small two-tensor
// "model" trained two Adam steps, with an EMA.
Checkpoint sample_checkpoint() {
  Tensor w = randn({2, 3, 4, 5}, 1), b = randn({7}, 2);
  w.requires_grad_(), b.requires_grad_();
  std::vector<std::pair<std::string, Tensor>> named = {{"block.0.weight", w}, {"head.bias", b}};
  nn::AdamW opt({w, b}, nn::AdamOptions{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f});
  nn::Ema ema(named, nn::EmaOptions{0.99, true});
  for (int s = 0; s < 2; ++s) {
    (sum(w * randn(w.shape(), 10 + s)) + sum(b * randn(b.shape(), 20 + s))).backward();
    opt.step();
    opt.zero_grad();
    ema.update({w, b});
  }
  Checkpoint c;
  c.model_config = "unet\nchannels 64\nmults 1,2,2\n" + std::string(1, '\0') + "tail";
  for (const auto& [n, t] : named) c.model.push_back({n, t});
  // Odd cases: a rank-0 tensor, an empty one, and a non-contiguous view (saved row-major).
  c.model.push_back({"scalar", scalar_tensor(-0.0f)});
  c.model.push_back({"empty", zeros({0, 3})});
  c.model.push_back({"transposed", randn({3, 4}, 3).transpose(0, 1)});
  c.ema = ema.state();
  c.optimizer = opt.state();
  c.step = 0x123456789ABCDEFull;
  c.generator = Generator(0xDEADBEEFCAFEull, 987654321ull);
  c.data = nn::DataCursor{3, 41000, 77};
  c.extras = {{"flags", "--lr 2e-4 --batch 128"}, {"note", ""}, {"", "empty key"}};
  return c;
}

TEST_F(CheckpointFile, RoundTripIsBitExact) {
  Checkpoint c = sample_checkpoint();
  const std::string p = path("run.ckpt");
  save_checkpoint(c, p);
  EXPECT_FALSE(fs::exists(atomic_temp_path(p)));
  Checkpoint r = load_checkpoint(p);
  EXPECT_EQ(r.model_config, c.model_config);
  expect_same_tensors(r.model, c.model);
  EXPECT_TRUE(r.model[4].tensor.is_contiguous());
  EXPECT_EQ(r.model[2].tensor.ndim(), 0);
  EXPECT_TRUE(std::signbit(r.model[2].tensor.item()));  // -0.0 kept bit for bit
  expect_same_state(r.ema, c.ema);
  expect_same_state(r.optimizer, c.optimizer);
  EXPECT_EQ(r.optimizer.kind, "adamw");
  EXPECT_EQ(r.step, c.step);
  EXPECT_EQ(r.generator.seed, c.generator.seed);
  EXPECT_EQ(r.generator.offset, c.generator.offset);
  EXPECT_EQ(r.data.epoch, 3u);
  EXPECT_EQ(r.data.position, 41000u);
  EXPECT_EQ(r.data.shuffle_seed, 77u);
  EXPECT_EQ(r.extras, c.extras);
  // Saving again over an existing checkpoint replaces it.
  c.step = 5;
  save_checkpoint(c, p);
  EXPECT_EQ(load_checkpoint(p).step, 5u);
  // An empty checkpoint is valid too.
  save_checkpoint(Checkpoint{}, path("empty.ckpt"));
  EXPECT_TRUE(load_checkpoint(path("empty.ckpt")).model.empty());
}

TEST_F(CheckpointFile, RestoredStateResumesTrainingExactly) {
  Checkpoint c = sample_checkpoint();
  save_checkpoint(c, path("a.ckpt"));
  Checkpoint r = load_checkpoint(path("a.ckpt"));
  // A fresh model, optimizer and EMA, restored from the file, are where the saved run was.
  Tensor w = zeros({2, 3, 4, 5}), b = zeros({7});
  w.requires_grad_(), b.requires_grad_();
  std::vector<std::pair<std::string, Tensor>> named = {{"block.0.weight", w}, {"head.bias", b}};
  std::vector<nn::NamedTensor> saved_model(r.model.begin(), r.model.begin() + 2);
  nn::load_into(named, saved_model, "a.ckpt");
  nn::AdamW opt({w, b}, nn::AdamOptions{1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f});
  opt.load_state(r.optimizer);
  nn::Ema ema(named, nn::EmaOptions{0.99, true});
  ema.load_state(r.ema);
  EXPECT_EQ(opt.step_count(), 2u);
  EXPECT_EQ(ema.num_updates(), 2u);
  EXPECT_TRUE(same_bits(w, c.model[0].tensor));
  EXPECT_TRUE(same_bits(ema.shadow()[1].tensor, c.ema.tensors[1].tensor));
}

TEST_F(CheckpointFile, TruncatedAtAnyLength) {
  const std::string p = path("t.ckpt");
  save_checkpoint(sample_checkpoint(), p);
  const std::string full = read_bytes(p);
  const std::string cut = path("cut.ckpt");
  for (size_t len :
       {size_t(0), size_t(3), size_t(8), size_t(12), size_t(23), size_t(24), size_t(40),
        full.size() / 2, full.size() - 5, full.size() - 4, full.size() - 1}) {
    SCOPED_TRACE(len);
    write_bytes(cut, full.substr(0, len));
    expect_error([&] { load_checkpoint(cut); }, {"load_checkpoint", cut, "truncated"});
  }
}

TEST_F(CheckpointFile, EveryFlippedByteIsCaught) {
  Checkpoint c;  // small, so that every byte can be tried
  c.model_config = "tiny";
  c.model.push_back({"w", from_data({1, 2, 3}, {3})});
  c.optimizer.kind = "sgd";
  c.optimizer.scalars.push_back({"lr", 0.1});
  c.extras["k"] = "v";
  const std::string p = path("f.ckpt"), bad = path("bad.ckpt");
  save_checkpoint(c, p);
  const std::string good = read_bytes(p);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string b = good;
    b[i] = static_cast<char>(b[i] ^ 0x10);
    write_bytes(bad, b);
    try {
      load_checkpoint(bad);
      ADD_FAILURE() << "flipping byte " << i << " went unnoticed";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(bad), std::string::npos) << msg;
      // Past the 24-byte header, damage is reported as such (the CRC catches it).
      if (i >= 24) {
        EXPECT_NE(msg.find("corrupt"), std::string::npos) << "byte " << i << ": " << msg;
      }
    }
  }
}

TEST_F(CheckpointFile, ForeignAndNewerFiles) {
  const std::string p = path("x.ckpt");
  write_bytes(p, "PK\x03\x04 this is a zip file, not a checkpoint at all");
  expect_error([&] { load_checkpoint(p); }, {p, "not a mindiff checkpoint"});
  write_bytes(p, "MIND");  // a prefix of the magic: cut short rather than foreign
  expect_error([&] { load_checkpoint(p); }, {p, "truncated"});
  save_checkpoint(Checkpoint{}, p);
  std::string bytes = read_bytes(p);
  bytes[8] = 2;  // version field (u32 little-endian at offset 8)
  write_bytes(p, bytes);
  expect_error([&] { load_checkpoint(p); },
               {p, "format version 2 is newer than this build supports (1)"});
  expect_error([&] { load_checkpoint(path("nope.ckpt")); },
               {path("nope.ckpt"), "cannot open", "No such file"});
  expect_error([&] { load_checkpoint(dir_); }, {dir_, "not a regular file"});
}

TEST_F(CheckpointFile, ImplausibleSizesInsideAValidChecksum) {
  // Layout (docs/checkpoint.md): 24-byte header; CONF section (12-byte head + config bytes);
  // then MODL: 12-byte head, u32 tensor count, then per tensor u32 name length, name, u32 rank,
  // u64 extents, data.
  Checkpoint c;
  c.model_config = "cfg";
  c.model.push_back({"a", from_data({1, 2}, {2})});
  c.model.push_back({"b", from_data({3, 4}, {2})});
  const std::string p = path("i.ckpt");
  save_checkpoint(c, p);
  const std::string good = read_bytes(p);
  const size_t count_at = 24 + 12 + 3 + 12;
  const size_t extent_at = count_at + 4 + 4 + 1 + 4;
  const size_t second_name_at = extent_at + 8 + 2 * 4 + 4;
  ASSERT_EQ(good.substr(count_at + 8, 1), "a");
  ASSERT_EQ(good.substr(second_name_at, 1), "b");
  auto expect_rejected = [&](size_t at, const std::string& patch, const std::string& problem) {
    std::string b = good;
    b.replace(at, patch.size(), patch);
    fix_crc(b);
    write_bytes(p, b);
    expect_error([&] { load_checkpoint(p); }, {p, "MODL", problem});
  };
  expect_rejected(count_at, std::string("\xff\xff\xff\xff", 4), "4294967295 tensor entries");
  expect_rejected(extent_at, std::string("\0\0\0\0\0\0\0\x40", 8), "implausible shape");
  expect_rejected(count_at + 4, std::string("\xff\xff\xff\x7f", 4), "string of");
  expect_rejected(second_name_at, "a", "duplicate tensor name 'a'");
}

TEST_F(CheckpointFile, LoadIntoChecksNamesAndShapes) {
  Tensor w = from_data({1, 2, 3, 4, 5, 6}, {2, 3}), b = from_data({7}, {1});
  std::vector<std::pair<std::string, Tensor>> model = {{"w", w}, {"b", b}};
  std::vector<nn::NamedTensor> saved = {{"w", from_data({9, 9, 9, 9, 9, 9}, {3, 2})},
                                        {"b", from_data({8}, {1})}};
  const std::string p = path("m.ckpt");
  expect_error([&] { nn::load_into(model, saved, p); }, {p, "'w'", "[3, 2]", "[2, 3]"});
  EXPECT_EQ(b.item(), 7.0f);  // nothing was loaded: the check comes first
  saved[0].tensor = from_data({9, 9, 9, 9, 9, 9}, {2, 3});
  std::vector<nn::NamedTensor> missing = {saved[0]};
  expect_error([&] { nn::load_into(model, missing, p); }, {p, "'b'", "missing"});
  std::vector<nn::NamedTensor> extra = saved;
  extra.push_back({"c", zeros({4})});
  expect_error([&] { nn::load_into(model, extra, p); }, {p, "'c'", "[4]", "no counterpart"});
  nn::load_into(model, saved, p);
  EXPECT_EQ(w.to_vector(), std::vector<float>(6, 9.0f));
  EXPECT_EQ(b.item(), 8.0f);
}

TEST_F(CheckpointFile, FailedSavesLeaveTheOldCheckpointAndNoTempFile) {
  const std::string p = path("keep.ckpt");
  Checkpoint old_ckpt;
  old_ckpt.step = 1;
  save_checkpoint(old_ckpt, p);
  const std::string old_bytes = read_bytes(p);
  Checkpoint next = sample_checkpoint();

  // A folder that does not exist.
  const std::string nowhere = path("no/such/dir/x.ckpt");
  expect_error([&] { save_checkpoint(next, nowhere); }, {nowhere, "No such file or directory"});

  // The temporary file cannot be created (a folder is in its place).
  ASSERT_EQ(::mkdir((atomic_temp_path(p)).c_str(), 0700), 0);
  expect_error([&] { save_checkpoint(next, p); }, {p, "Is a directory"});
  EXPECT_EQ(read_bytes(p), old_bytes);
  ASSERT_EQ(::rmdir((atomic_temp_path(p)).c_str()), 0);

  // Invalid contents are refused before anything is written.
  Checkpoint dup = next;
  dup.model.push_back(dup.model[0]);
  expect_error([&] { save_checkpoint(dup, p); }, {p, "duplicate model", "block.0.weight"});
  EXPECT_FALSE(fs::exists(atomic_temp_path(p)));

  // Writing fails half-way: the temporary file leads to /dev/full (every write: ENOSPC).
  if (fs::exists("/dev/full")) {
    ASSERT_EQ(::symlink("/dev/full", (atomic_temp_path(p)).c_str()), 0);
    expect_error([&] { save_checkpoint(next, p); }, {p, "No space left on device"});
    EXPECT_FALSE(fs::exists(fs::symlink_status(atomic_temp_path(p))));  // removed after the failure
  }
  EXPECT_EQ(read_bytes(p), old_bytes);
  EXPECT_EQ(load_checkpoint(p).step, 1u);
  // And a save that succeeds leaves no temporary file behind.
  save_checkpoint(next, p);
  EXPECT_FALSE(fs::exists(fs::symlink_status(atomic_temp_path(p))));
  EXPECT_EQ(load_checkpoint(p).step, next.step);
}

}  // namespace
}  // namespace mindiff
