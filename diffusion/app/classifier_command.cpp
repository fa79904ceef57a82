#include "diffusion/app/classifier_command.h"

#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "data/open.h"
#include "diffusion/app/progress.h"
#include "diffusion/app/classifier_io.h"
#include "diffusion/app/classifier_train.h"
#include "nn/config_text.h"

namespace mindiff::diffusion {

namespace {
// The recipe's width/features/dropout with the user's --config changes, and the input shape and
// class count of the data.
diffusion::ClassifierConfig classifier_config(const std::string& text, const Dataset& data) {
  const char* what = "--config";
  auto kv = nn::parse_config_line(ClassifierRecipe::kConfig, "classifier", what);
  if (!text.empty()) {
    auto user = nn::parse_config_line(text, "classifier", what);
    for (const char* key : {"in", "size", "classes"})
      MD_CHECK(!user.count(key), "--config: '", key, "' comes from the data, do not set it");
    nn::config_reject_unknown(user, {"width", "features", "dropout"}, what);
    for (const auto& [key, value] : user) kv[key] = value;
  }
  const std::string line = "classifier in=" + std::to_string(data.images.size(1)) +
                           " size=" + std::to_string(data.images.size(2)) +
                           " classes=" + std::to_string(data.num_classes) + " width=" + kv["width"] +
                           " features=" + kv["features"] + " dropout=" + kv["dropout"];
  return diffusion::ClassifierConfig::parse(line);
}

// Where the classifier goes: FILE.ckpt as given, or DIR/model.ckpt (DIR created). Checked by
// creating and removing the temporary file the atomic save will use, so that a path that cannot
// be written fails now rather than after the training.
std::string output_path(const std::string& out) {
  MD_CHECK(!out.empty(), "--out must name a .ckpt file or a folder");
  std::string path = out;
  if (!settings::ends_with(out, ".ckpt")) {
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    MD_CHECK(!ec, "--out ", out, ": cannot create the folder: ", ec.message());
    path = out + "/model.ckpt";
  }
  const std::string probe = path + ".tmp";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  MD_CHECK(fd >= 0 || errno == EEXIST, "--out ", out, ": cannot write ", path, ": ",
           std::strerror(errno));
  if (fd >= 0) {
    ::close(fd);
    ::unlink(probe.c_str());
  }
  return path;
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? "," : "") + names[i];
  return s;
}

}  // namespace

int train_classifier_command(const TrainSettings& s) {
  const std::vector<std::string> known = {"model", "data",         "config", "epochs",
                                          "batch", "lr",           "weight-decay", "seed",
                                          "threads", "out",        "log-every"};
  for (const std::string& name : s.given)
    MD_CHECK(std::find(known.begin(), known.end(), name) != known.end(), "--", name,
             " does not apply to --model classifier (it reads --data --config --epochs --batch "
             "--lr --weight-decay --seed --threads --out --log-every)");
  auto given = [&](const char* name) { return s.given.count(name) > 0; };
  ClassifierTraining o;
  o.epochs = given("epochs") ? s.epochs : ClassifierRecipe::kEpochs;
  o.batch = given("batch") ? s.batch : ClassifierRecipe::kBatch;
  o.lr = given("lr") ? s.lr : ClassifierRecipe::kLr;
  o.weight_decay = given("weight-decay") ? s.weight_decay : ClassifierRecipe::kWeightDecay;
  o.seed = static_cast<uint64_t>(s.seed);
  if (s.threads > 0) omp_set_num_threads(static_cast<int>(s.threads));

  // ---- output, data, network: everything checked before training starts ----
  const std::string path = output_path(given("out") ? s.out : ClassifierRecipe::kOut);
  const std::string& spec = s.data;
  Dataset train = open_dataset(spec, OpenOptions{});
  MD_CHECK(train.labeled(), "--data ", spec, ": the classifier needs labelled data, and ",
           train.name, " has no labels");
  MD_CHECK(train.images.ndim() == 4 && train.images.size(2) == train.images.size(3),
           "--data ", spec, ": the classifier needs square images [N, C, S, S], got ",
           train.images.shape().str());
  MD_CHECK(o.batch <= train.size(), "--batch ", o.batch, " is larger than the ", train.size(),
           " examples of ", train.name);
  const diffusion::ClassifierConfig config =
      classifier_config(given("config") ? s.config : "", train);
  Generator init(o.seed);
  diffusion::Classifier net(config, init);
  const int64_t total = o.epochs * (train.size() / o.batch);
  std::printf("training %s (%ld parameters) on %s (%ld examples): %ld epochs of %ld steps, batch "
              "%ld, AdamW lr %g -> %s\n",
              config.to_string().c_str(), static_cast<long>(net.num_parameters()),
              train.name.c_str(), static_cast<long>(train.size()), static_cast<long>(o.epochs),
              static_cast<long>(train.size() / o.batch), static_cast<long>(o.batch), o.lr,
              path.c_str());
  std::fflush(stdout);

  // ---- training ----
  Progress progress(0, total, s.log_every);
  o.on_step = [&](int64_t step, double loss) { progress.update(step, loss); };
  diffusion::train_classifier(net, train, o);
  progress.finish();
  const double seconds = progress.seconds();

  // ---- test accuracy, when the data has a test split ----
  std::map<std::string, std::string> extras = {{"data", spec},
                                                {"class_names", join(train.class_names)},
                                                {"settings", settings_record(s)},
                                                {"train_seconds", std::to_string(seconds)}};
  const bool has_test = spec == "fashion-mnist" || spec.rfind("mnist:", 0) == 0 ||
                        spec.rfind("cifar10:", 0) == 0;
  std::string accuracy_line = "no test split to measure accuracy on";
  if (has_test) {
    OpenOptions test_options;
    test_options.split = "test";
    Dataset test = open_dataset(spec, test_options);
    const double accuracy = diffusion::classifier_accuracy(net, test);
    char buf[160];
    std::snprintf(buf, sizeof buf, "test accuracy %.2f%% (%ld images of %s)", 100 * accuracy,
                  static_cast<long>(test.size()), test.name.c_str());
    accuracy_line = buf;
    extras["test_accuracy"] = std::to_string(accuracy);
    extras["test_examples"] = std::to_string(test.size());
  }
  diffusion::save_classifier(net, extras, path);
  std::printf("trained in %s; %s\nwrote %s\n", format_duration(seconds).c_str(),
              accuracy_line.c_str(), path.c_str());
  return 0;
}

}  // namespace mindiff::diffusion
