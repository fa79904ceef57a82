// Training and evaluating the CNN classifier (diffusion/app/classifier.h): cross-entropy, AdamW, seeded
// batches. It is trained once on Fashion-MNIST and then measures generated samples.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "data/dataset.h"
#include "diffusion/app/classifier.h"

namespace mindiff::diffusion {

struct ClassifierTraining {
  int64_t epochs = 5;
  int64_t batch = 128;
  double lr = 2e-3;
  double weight_decay = 1e-4;
  uint64_t seed = 0;
  int64_t max_examples = 0;  // > 0: train on the first max_examples only (quick runs, tests)
  // Called after every optimizer step with (steps done, that step's loss), e.g. for a progress
  // bar; total steps = epochs * floor(examples / batch) (the last partial batch is dropped).
  std::function<void(int64_t, double)> on_step;
};

// Trains in place; calls progress(epoch, mean training loss) after each epoch when given.
void train_classifier(Classifier& net, const Dataset& train, const ClassifierTraining& options,
                      const std::function<void(int64_t, double)>& progress = nullptr);

// Fraction of `data` (labelled) classified correctly, in evaluation mode, batched.
double classifier_accuracy(Classifier& net, const Dataset& data, int64_t max_examples = 0);

}  // namespace mindiff::diffusion
