#include "diffusion/app/model_io.h"

#include <sstream>

#include "diffusion/app/run_folder.h"
#include "nn/checkpoint.h"

namespace mindiff::diffusion {

LoadedModel load_model(const std::string& where, bool prefer_ema) {
  LoadedModel m;
  m.path = resolve_checkpoint(where);
  nn::Checkpoint ck = nn::load_checkpoint(m.path);
  auto extra = [&](const std::string& key) {
    auto it = ck.extras.find(key);
    MD_CHECK(it != ck.extras.end(), m.path, ": not a diffusion model checkpoint (no '", key,
             "' recorded)");
    return it->second;
  };
  try {
    Generator gen(0);  // the weights are overwritten below
    m.net = DiffusionNet::build(ck.model_config, gen);
    m.process = make_process(extra("process"));
    // sigma_data: recorded by runs since the edm objective exists; older ones used the default.
    double sigma_data = Parameterization::kDefaultSigmaData;
    if (auto sd = ck.extras.find("sigma_data"); sd != ck.extras.end()) {
      std::istringstream in(sd->second);
      MD_CHECK((in >> sigma_data) && in.eof(), "sigma_data '", sd->second, "' is not a number");
    }
    m.kind = parse_parameterization(extra("objective"), sigma_data);
    check_parameterization(m.kind, *m.process);
  } catch (const Error& e) {
    throw Error(m.path + ": " + e.what());
  }
  const auto named = m.net->module().named_parameters();
  const bool use_ema = prefer_ema && !ck.ema.tensors.empty();
  nn::load_into(named, use_ema ? ck.ema.tensors : ck.model, m.path);
  auto w = ck.extras.find("weights");
  m.weights = use_ema ? "ema" : (w != ck.extras.end() ? w->second : "live");
  m.step = ck.step;
  std::stringstream names(ck.extras.count("class_names") ? ck.extras["class_names"] : "");
  std::string name;
  while (std::getline(names, name, ',')) m.class_names.push_back(name);
  m.net->module().eval();
  return m;
}

}  // namespace mindiff::diffusion
