// Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<format>/), each seed a small
// valid file made by the project's own writers, plus the inputs of fixed findings, so that the
// fuzzers start from every structure the readers accept and keep checking what was once wrong.
// Run by tests/fuzz/make_corpus.sh (which also gzips some seeds with gzip(1)); the files it
// writes are committed, so this runs only when the seeds should change.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <stb/stb_image_write.h>

#include "data/cifar10.h"
#include "data/gzip.h"
#include "data/image_io.h"
#include "diffusion/app/classifier.h"
#include "diffusion/network.h"
#include "nn/checkpoint.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "tensor/ops.h"

using namespace mindiff;

namespace {

std::string g_root;

void put(const std::string& format, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::ofstream(g_root + "/" + format + "/" + name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}
void put_text(const std::string& format, const std::string& name, const std::string& text) {
  put(format, name, std::vector<uint8_t>(text.begin(), text.end()));
}
std::vector<uint8_t> read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// A checkpoint of the network a config line describes; a diffusion model's has an EMA and an
// optimizer state unless `weights_only` (small seeds fuzz faster).
void checkpoint_of(const std::string& config, const std::string& name, bool classifier,
                   bool weights_only = false) {
  Generator gen(1);
  std::shared_ptr<diffusion::DiffusionNet> net;
  std::unique_ptr<diffusion::Classifier> cls;
  std::vector<std::pair<std::string, Tensor>> named;
  if (classifier) {
    cls = std::make_unique<diffusion::Classifier>(diffusion::ClassifierConfig::parse(config), gen);
    named = cls->named_parameters();
  } else {
    net = diffusion::DiffusionNet::build(config, gen);
    named = net->module().named_parameters();
  }
  nn::Checkpoint ck;
  ck.model_config = config;
  for (const auto& [n, t] : named) ck.model.push_back({n, t});
  if (!classifier && !weights_only) {
    std::vector<Tensor> params;
    for (const auto& [n, t] : named) params.push_back(t);
    ck.ema = nn::Ema(named, nn::EmaOptions{0.99, true}).state();
    ck.optimizer = nn::AdamW(params, nn::AdamOptions{}).state();
    ck.extras = {{"process", "vp"}, {"objective", "eps"}};
  } else if (classifier) {
    ck.extras = {{"kind", "classifier"}, {"data", "gmm8"}, {"test_accuracy", "0.5"}};
  }
  const std::string path = g_root + "/checkpoint/" + name;
  nn::save_checkpoint(ck, path);
}

void append(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(ctx);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

std::vector<uint8_t> png(int w, int h, int comp) {
  std::vector<uint8_t> px(size_t(w * h * comp)), out;
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 37 + 11);
  stbi_write_png_to_func(append, &out, w, h, comp, px.data(), w * comp);
  return out;
}

std::vector<uint8_t> jpeg(int w, int h, int comp, int quality) {
  std::vector<uint8_t> px(size_t(w * h * comp)), out;
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 13 + 5);
  stbi_write_jpg_to_func(append, &out, w, h, comp, px.data(), quality);
  return out;
}

std::vector<uint8_t> bmp(int w, int h, int comp) {
  std::vector<uint8_t> px(size_t(w * h * comp)), out;
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 29 + 3);
  stbi_write_bmp_to_func(append, &out, w, h, comp, px.data());
  return out;
}

std::vector<uint8_t> npy(const Tensor& t) {
  const std::string path = g_root + "/npy/.tmp.npy";
  write_npy(path, t);
  std::vector<uint8_t> b = read(path);
  std::remove(path.c_str());
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  g_root = argc > 1 ? argv[1] : "tests/fuzz/corpus";

  checkpoint_of("mlp dim=2 hidden=4 layers=1 temb=2 classes=0", "mlp.ckpt", false);
  checkpoint_of("mlp dim=2 hidden=3 layers=0 temb=4 classes=2", "mlp_conditional.ckpt", false);
  checkpoint_of("unet in=1 size=2 base=2 mult=1 blocks=1 attn=2 heads=1 dropout=0 classes=0 groups=1",
                "unet.ckpt", false, /*weights_only=*/true);
  checkpoint_of("classifier in=1 size=4 classes=2 width=8 features=2 dropout=0", "classifier.ckpt",
                true);

  // IDX: images [3, 2, 2] and labels [3] (magic 00 00 08 ndims, big-endian extents).
  put("idx", "images", {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 255, 128, 7, 1, 2, 3,
                        4, 9, 8, 7, 6});
  put("idx", "labels", {0, 0, 8, 1, 0, 0, 0, 3, 0, 1, 9});

  // gzip: stored blocks here; make_corpus.sh adds compressed ones.
  put("gzip", "stored.gz", gzip_store({'m', 'i', 'n', 'd', 'i', 'f', 'f', '\n'}));
  put("gzip", "empty.gz", gzip_store({}));

  // CIFAR-10: one record and two (label byte, then 3072 pixel bytes).
  std::vector<uint8_t> record(static_cast<size_t>(kCifarRecord));
  for (size_t i = 0; i < record.size(); ++i) record[i] = uint8_t(i * 7);
  record[0] = 3;
  put("cifar10", "one.bin", record);
  std::vector<uint8_t> two = record;
  two.insert(two.end(), record.begin(), record.end());
  two[kCifarRecord] = 9;
  put("cifar10", "two.bin", two);

  // Images: PNG of 1, 3 and 4 channels, BMP, JPEG in colour and grey (refused, which must
  // hold); and the inputs of the fixed findings (issue #17 and fuzzing since): a Huffman table of
  // 510 codes, a truncated BMP, a PNG whose first IDAT chunk is empty.
  put("image", "grey.png", png(5, 3, 1));
  put("image", "rgb.png", png(4, 4, 3));
  put("image", "rgba.png", png(3, 3, 4));
  put("image", "colour.jpg", jpeg(16, 8, 3, 90));
  put("image", "grey.jpg", jpeg(9, 9, 1, 50));
  put("image", "rgb.bmp", bmp(5, 5, 3));
  put("image", "dht_overflow.jpg", {0xff, 0xd8, 0xff, 0xc4, 0x01, 0xdb, 0x00, 0xff, 0xff});
  std::vector<uint8_t> cut = bmp(5, 5, 3);
  cut.resize(70);
  put("image", "truncated.bmp", cut);
  std::vector<uint8_t> empty_idat = png(4, 4, 3);  // an empty IDAT chunk right after IHDR
  const uint8_t chunk[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xaf, 0x06, 0x1e};
  empty_idat.insert(empty_idat.begin() + 8 + 12 + 13, chunk, chunk + 12);
  put("image", "empty_first_idat.png", empty_idat);

  // .npy: several ranks, an empty array, a scalar.
  put("npy", "matrix.npy", npy(randn({2, 3}, 1)));
  put("npy", "vector.npy", npy(randn({4}, 2)));
  put("npy", "images.npy", npy(randn({1, 1, 2, 2}, 3)));
  put("npy", "empty.npy", npy(zeros({0, 3})));
  put("npy", "scalar.npy", npy(scalar_tensor(1.5f)));

  // Config lines as checkpoints store them and as users type them (small networks: building is
  // what costs time), and the line of a fixed finding.
  put_text("config", "tiny", nn::UNetConfig::preset("tiny").to_string());
  put_text("config", "mlp", nn::MLPConfig().to_string());
  put_text("config", "classifier", "classifier in=1 size=8 classes=10 width=8 features=16 dropout=0.25");
  put_text("config", "user_small", "small base=8 mult=1,2 blocks=1 attn=none");
  put_text("config", "user_mlp", "mlp hidden=32 layers=1");
  put_text("config", "found_hidden", "mlp dim=2 hidden=4611686018427387904 layers=3 temb=8 classes=0");

  // Command lines, one argument per line.
  put_text("flags", "forms", "--steps\n10\n--lr=2e-4\n--hflip\n--no-hflip\n--out\nruns/x");
  put_text("flags", "threads", "--threads\n100000\n--device\ncuda");
  put_text("flags", "help", "--help");
  return 0;
}
