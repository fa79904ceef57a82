#include "diffusion/app/classifier_train.h"

#include <algorithm>

#include "data/loader.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace mindiff::diffusion {

namespace {
// The first n examples of a dataset (views, no copy).
Dataset head(const Dataset& d, int64_t n) {
  if (n <= 0 || n >= d.size()) return d;
  Dataset h = d;
  h.images = d.images.slice(0, 0, n);
  h.labels.assign(d.labels.begin(), d.labels.begin() + n);
  return h;
}
}  // namespace

void train_classifier(Classifier& net, const Dataset& full, const ClassifierTraining& o,
                      const std::function<void(int64_t, double)>& progress) {
  MD_CHECK(full.labeled(), "train_classifier: dataset ", full.name, " has no labels");
  MD_CHECK(full.num_classes == net.config().num_classes, "train_classifier: dataset ", full.name,
           " has ", full.num_classes, " classes, the classifier ", net.config().num_classes);
  MD_CHECK(o.epochs > 0 && o.batch > 0 && o.lr > 0, "train_classifier: epochs, batch and lr must be positive");
  const Dataset data = head(full, o.max_examples);
  LoaderOptions lo;
  lo.batch_size = std::min(o.batch, data.size());
  lo.seed = o.seed;
  DataLoader loader(data, lo);
  const int64_t per_epoch = loader.batches_per_epoch(), total = per_epoch * o.epochs;
  nn::AdamOptions adam;
  adam.lr = static_cast<float>(o.lr);
  adam.weight_decay = static_cast<float>(o.weight_decay);
  const std::vector<Tensor> params = net.parameters();
  nn::AdamW optimizer(params, adam);
  // Short warm-up, then cosine decay to 5% of the peak over the whole run.
  const nn::LrSchedule schedule = nn::LrSchedule::warmup_cosine(
      static_cast<float>(o.lr), static_cast<float>(o.lr * 0.05), std::min<int64_t>(100, total / 10), total);
  net.train();
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    double loss_sum = 0;
    for (int64_t b = 0; b < per_epoch; ++b, ++step) {
      Batch batch = loader.next_batch();
      Generator dropout_gen(o.seed ^ 0xD1B54A32D192ED03ull, static_cast<uint64_t>(step) << 20);
      Tensor loss = cross_entropy(net.forward(batch.images, &dropout_gen), batch.labels);
      const double value = loss.item();
      loss_sum += value;
      optimizer.zero_grad();
      loss.backward();
      optimizer.set_lr(schedule.lr(step));
      optimizer.step();
      if (o.on_step) o.on_step(step + 1, value);
    }
    if (progress) progress(epoch + 1, loss_sum / static_cast<double>(per_epoch));
  }
  net.eval();
}

double classifier_accuracy(Classifier& net, const Dataset& full, int64_t max_examples) {
  MD_CHECK(full.labeled(), "classifier_accuracy: dataset ", full.name, " has no labels");
  const Dataset data = head(full, max_examples);
  NoGradGuard no_grad;
  const bool was_training = net.training();
  net.eval();
  const int64_t n = data.size(), kBatch = 256;
  int64_t correct = 0;
  for (int64_t first = 0; first < n; first += kBatch) {
    const int64_t count = std::min(kBatch, n - first);
    std::vector<float> logits = net.forward(data.images.slice(0, first, first + count)).to_vector();
    const int64_t k = net.config().num_classes;
    for (int64_t i = 0; i < count; ++i) {
      const float* row = logits.data() + i * k;
      const int64_t pred = std::max_element(row, row + k) - row;
      correct += pred == data.labels[first + i];
    }
  }
  net.train(was_training);
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace mindiff::diffusion
