#include "diffusion/app/classifier_io.h"

#include <sys/stat.h>

#include <sstream>

#include "nn/checkpoint.h"
#include "nn/config_text.h"

namespace mindiff::diffusion {

namespace {
bool is_folder(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_present(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}
}  // namespace

void save_classifier(const Classifier& net, const std::map<std::string, std::string>& extras,
                     const std::string& path) {
  MD_CHECK(extras.count("data"), "save_classifier: extras must name the training data");
  nn::Checkpoint ck;
  ck.model_config = net.config().to_string();
  for (const auto& [name, tensor] : net.named_parameters()) ck.model.push_back({name, tensor});
  ck.extras = extras;
  ck.extras["kind"] = "classifier";
  ck.extras["weights"] = "live";
  nn::save_checkpoint(ck, path);
}

SavedClassifier load_classifier(const std::string& where) {
  SavedClassifier out;
  out.path = is_folder(where) ? where + "/model.ckpt" : where;
  MD_CHECK(is_present(out.path), "classifier ", out.path, ": no such file (train one with "
           "`./train --model classifier --out ", out.path, "`)");
  nn::Checkpoint ck = nn::load_checkpoint(out.path);
  MD_CHECK(ck.model_config.rfind("classifier", 0) == 0, "classifier ", out.path,
           ": not a classifier checkpoint (its model is '", ck.model_config, "')");
  ClassifierConfig config;
  try {
    config = ClassifierConfig::parse(ck.model_config);
  } catch (const Error& e) {
    throw Error("classifier " + out.path + ": " + e.what());
  }
  Generator gen(0);  // the weights are overwritten below
  out.net = std::make_shared<Classifier>(config, gen);
  nn::load_into(out.net->named_parameters(), ck.model, out.path);
  out.net->eval();
  out.extras = ck.extras;
  auto data = ck.extras.find("data");
  MD_CHECK(data != ck.extras.end(), "classifier ", out.path, ": the file does not record its training data");
  out.data = data->second;
  if (auto acc = ck.extras.find("test_accuracy"); acc != ck.extras.end())
    MD_CHECK(nn::parse_number(acc->second, out.test_accuracy) && out.test_accuracy >= 0 &&
                 out.test_accuracy <= 1,
             "classifier ", out.path, ": its test_accuracy '", acc->second,
             "' is not a fraction in [0, 1]");
  std::stringstream names(ck.extras.count("class_names") ? ck.extras.at("class_names") : "");
  std::string name;
  while (std::getline(names, name, ',')) out.class_names.push_back(name);
  return out;
}

}  // namespace mindiff::diffusion
