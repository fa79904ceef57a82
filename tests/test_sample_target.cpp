// Exact targets, energies, the sampler settings, --likelihood and --check: the library pieces
// (targets.h, sample_check.h), the front end's (diffusion/app/sample_settings.h, toy_recipe.h)
// and `sample` run as a user runs it.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>

#include "data/image_io.h"
#include "data/toy2d.h"
#include "diffusion/app/sample_settings.h"
#include "diffusion/app/toy_recipe.h"
#include "diffusion/metrics.h"
#include "diffusion/sample_check.h"
#include "diffusion/targets.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

namespace fs = std::filesystem;
using namespace diffusion;
using test::CommandResult;
using test::expect_error;

TEST(Targets, BuiltInMixtures) {
  const ExactTarget gmm8 = make_target("gmm8");
  ASSERT_TRUE(gmm8.mixture);
  EXPECT_EQ(gmm8.dim(), 2);
  EXPECT_EQ(gmm8.mixture->weights.size(), 8u);
  const ExactTarget two = make_target("two-gaussians:16,0.5");
  EXPECT_EQ(two.dim(), 16);
  EXPECT_EQ(two.mixture->means[0], std::vector<double>(16, 3.0));  // means 6 (1, ..., 1) apart
  EXPECT_EQ(two.mixture->means[1], std::vector<double>(16, -3.0));
  EXPECT_EQ(two.mixture->stds, (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(make_target("two-gaussians").dim(), 2);
  EXPECT_TRUE(make_target("banana").energy);
  EXPECT_EQ(make_target("ring").modes(), nullptr);  // a curve: no modes to count
}

TEST(Targets, RingMixtureHasTheLawOfTheToyRing) {
  // The 64-component mixture stands in for the toy set ring: energy distance to toy draws within
  // the 95th percentile of toy-versus-toy distances (20 pairs of 1000 points).
  const ExactTarget ring = make_target("ring");
  std::vector<double> null;
  for (uint64_t r = 0; r < 20; ++r)
    null.push_back(
        energy_distance(toy2d("ring", 1000, 100 + 2 * r), toy2d("ring", 1000, 101 + 2 * r)));
  std::sort(null.begin(), null.end());
  EXPECT_LT(energy_distance(ring.exact_samples(1000, 7), toy2d("ring", 1000, 8)), null[18]);
}

TEST(Targets, MixtureFiles) {
  const GaussianMixture m =
      parse_mixture("# weight std mean\n0.25 0.5  1 2   # a comment\n\n0.75 1.0 -1 0\n", "m.txt");
  EXPECT_EQ(m.weights, (std::vector<double>{0.25, 0.75}));
  EXPECT_EQ(m.stds, (std::vector<double>{0.5, 1.0}));
  EXPECT_EQ(m.means[1], (std::vector<double>{-1, 0}));
  // Weights within 1e-3 of summing to 1 are normalised exactly.
  const GaussianMixture n = parse_mixture("0.3334 1 0\n0.6667 1 1\n", "n.txt");
  EXPECT_NEAR(n.weights[0] + n.weights[1], 1.0, 1e-12);
  // Every error names the source and the line.
  expect_error([] { parse_mixture("0.5 1 0\n0.5 x 1\n", "f.txt"); }, {"f.txt:2:", "'x'"});
  expect_error([] { parse_mixture("0.5 1\n", "f.txt"); }, {"f.txt:1:", "weight std mean"});
  expect_error([] { parse_mixture("0.5 1 0 0\n0.5 1 0\n", "f.txt"); },
               {"f.txt:2:", "1 values", "2"});
  expect_error([] { parse_mixture("-0.5 1 0\n", "f.txt"); }, {"f.txt:1:", "weight", "-0.5"});
  expect_error([] { parse_mixture("1 0 0\n", "f.txt"); }, {"f.txt:1:", "std", "0"});
  expect_error([] { parse_mixture("1 inf 0\n", "f.txt"); }, {"f.txt:1:", "'inf'"});
  expect_error([] { parse_mixture("0.5 1 0\n", "f.txt"); }, {"f.txt", "sum to 0.5"});
  expect_error([] { parse_mixture("# only a comment\n", "f.txt"); }, {"f.txt", "no components"});
  // Bad built-in parameters and unknown names.
  expect_error([] { make_target("two-gaussians:0"); }, {"two-gaussians:0", "dimension", "'0'"});
  expect_error([] { make_target("two-gaussians:4,-1"); }, {"TAU", "'-1'"});
  expect_error([] { make_target("nowhere"); }, {"'nowhere'", "gmm8", "banana", "file"});
}

TEST(SampleCheck, ExactSamplesSitWithinTheirPercentiles) {
  // The committed table agrees with what exact samples give: an exact set is within the p95 of
  // the statistics (a 1-in-20 event otherwise, so the factor 1.5 as in the acceptance test).
  const ExactThresholds* th = tabulated_thresholds("gmm8", 2000);
  ASSERT_TRUE(th);
  EXPECT_GE(th->repeats, 200);
  const ExactTarget t = make_target("gmm8");
  const CheckStats s =
      check_stats(t.exact_samples(2000, 1), t.exact_samples(2000, 2), t.modes(), *th);
  EXPECT_LT(s.energy, 1.5 * th->energy);
  EXPECT_LT(s.weight, 1.5 * th->weight);
  EXPECT_LT(s.spread, 1.5 * th->spread);
  // Spreads: the component stds, a little below them where the assignment trims the tails.
  for (double c : th->centres) EXPECT_NEAR(c, 0.5, 0.01);
  // Samples 10% too wide are far outside.
  const Tensor wide = t.exact_samples(2000, 3);
  std::vector<float> v = wide.to_vector();
  const std::vector<int64_t> k = t.mixture->assign(wide);
  for (size_t i = 0; i < k.size(); ++i)
    for (int j = 0; j < 2; ++j) {
      const float mu = static_cast<float>(t.mixture->means[k[i]][j]);
      v[2 * i + j] = mu + 1.1f * (v[2 * i + j] - mu);
    }
  EXPECT_GT(
      check_stats(from_data(v, wide.shape()), t.exact_samples(2000, 2), t.modes(), *th).spread,
      1.5 * th->spread);
}

// Parses a command line of `program` (without the program's name) as the front end does.
template <class Settings, class Parse>
Settings parsed(Parse parse, std::vector<const char*> args) {
  args.insert(args.begin(), "program");
  Settings s;
  EXPECT_TRUE(parse(static_cast<int>(args.size()), args.data(), s));
  return s;
}
TrainSettings train_args(std::vector<const char*> args) {
  return parsed<TrainSettings>(parse_train_settings, std::move(args));
}
SampleSettings sample_args(std::vector<const char*> args) {
  return parsed<SampleSettings>(parse_sample_settings, std::move(args));
}

TEST(ToyRecipe, FillsWhatTheCommandLineLeftUnset) {
  const TrainSettings s = train_args({"--data", "moons", "--lr", "1e-3"});
  const ToyRecipe r;
  EXPECT_EQ(s.steps, r.steps);
  EXPECT_EQ(s.batch, r.batch);
  EXPECT_EQ(s.lr, 1e-3);
  EXPECT_EQ(s.warmup, r.warmup);
  EXPECT_DOUBLE_EQ(s.min_lr, r.min_lr_ratio * 1e-3);
  EXPECT_EQ(s.schedule, r.schedule);  // DDPM's process, so that ddim and ancestral run on toys
  EXPECT_EQ(s.objective, r.objective);
  EXPECT_EQ(train_args({"--data", "moons", "--schedule", "ve", "--objective", "score"}).schedule, "ve");
  // settings.txt records the values the run takes, the recipe's among them.
  const std::string record = settings_record(s);
  for (const char* taken : {"--steps=6000", "--batch=256", "--lr=0.001", "--warmup=100",
                            "--schedule=ddpm-linear", "--objective=eps"})
    EXPECT_NE(record.find(taken), std::string::npos) << taken << " not in " << record;
  // Not a toy set, or a classifier: untouched.
  const TrainSettings images = train_args({"--data", "fashion-mnist"});
  EXPECT_EQ(images.steps, TrainSettings{}.steps);
  EXPECT_EQ(images.schedule, "edm");  // the image recipe of docs/recipes.md
  EXPECT_EQ(images.objective, "edm");
  EXPECT_EQ(train_args({"--model", "classifier", "--data", "moons"}).batch, TrainSettings{}.batch);
  // What the command line gives is checked with the recipe's values: --min-lr above the lr.
  expect_error([] { train_args({"--data", "moons", "--min-lr", "0.01"}); }, {"--min-lr", "--lr"});
}

// --precision: fp32 by default and recorded; tf32 only with --device cuda (the CPU has no TF32
// arithmetic, so accepting it there would silently change nothing); other values named.
TEST(PrecisionFlag, Tf32NeedsTheDeviceAndOtherValuesAreRefused) {
  EXPECT_NE(settings_record(train_args({"--data", "moons"})).find("--precision=fp32"), std::string::npos);
  EXPECT_EQ(train_args({"--device", "cuda", "--precision", "tf32"}).precision, "tf32");
  EXPECT_EQ(sample_args({"--device", "cuda", "--precision", "tf32"}).precision, "tf32");
  expect_error([] { train_args({"--precision", "tf32"}); }, {"--precision tf32", "--device cuda"});
  expect_error([] { sample_args({"--precision", "tf32"}); }, {"--precision tf32", "--device cuda"});
  expect_error([] { train_args({"--device", "cuda", "--precision", "fp16"}); },
               {"--precision fp16", "fp32 or tf32"});
  expect_error([] { sample_args({"--precision", "bf16"}); }, {"--precision bf16", "fp32 or tf32"});
}

// ---- the sampler settings of `sample` (diffusion/app/sample_settings.h) ----

TEST(SampleSettings, AutoIsTheSamplersRuleAndNumbersAreTakenAsGiven) {
  const SampleSettings d = sample_args({});
  const SamplerOptions o = sampler_options(d, Device::CPU);
  const SamplerOptions library;  // the defaults of sampler.h: the command line's are the same
  EXPECT_EQ(o.sigma, 0.0);       // auto
  EXPECT_EQ(o.step_size, 0.0);
  EXPECT_EQ(o.friction, 0.0);
  EXPECT_EQ(o.s_churn, 0.0);
  EXPECT_EQ(o.measurements, 0);
  EXPECT_EQ(o.levels, 0);
  EXPECT_EQ(o.sigma_max, 0.0);
  EXPECT_EQ(o.walk, Walk::Default);
  EXPECT_EQ(o.snr, library.snr);
  EXPECT_EQ(o.corrector_steps, library.corrector_steps);
  EXPECT_EQ(o.rtol, library.rtol);
  EXPECT_EQ(o.rho, library.rho);
  EXPECT_EQ(o.s_tmin, library.s_tmin);
  EXPECT_EQ(o.s_tmax, library.s_tmax);
  EXPECT_EQ(o.s_noise, library.s_noise);
  const SampleSettings g = sample_args({"--sigma", "0.3", "--measurements", "4", "--walk",
                                        "overdamped", "--s-churn", "20", "--levels", "5",
                                        "--sigma-max", "2", "--sigma-min", "0.1", "--snr", "0.2"});
  const SamplerOptions p = sampler_options(g, Device::CPU);
  EXPECT_EQ(p.sigma, 0.3);
  EXPECT_EQ(p.measurements, 4);
  EXPECT_EQ(p.walk, Walk::Overdamped);
  EXPECT_EQ(p.s_churn, 20.0);
  EXPECT_EQ(p.levels, 5);
  EXPECT_EQ(p.sigma_max, 2.0);
  EXPECT_EQ(p.sigma_min, 0.1);
  EXPECT_EQ(p.snr, 0.2);
  EXPECT_EQ(p.start, ChainStart::Default);
  EXPECT_EQ(sampler_options(sample_args({"--chain-start", "noise"}), Device::CPU).start,
            ChainStart::Noise);
}

TEST(SampleSettings, ValuesThatWouldMeanAutoAndBadRelationsAreRefusedByName) {
  const std::vector<std::pair<std::vector<const char*>, std::vector<std::string>>> cases = {
      {{"--measurements", "0"}, {"--measurements", "from 1", "or auto", "got 0"}},
      {{"--measurements", "2.5"}, {"--measurements", "2.5"}},
      {{"--sigma", "0"}, {"--sigma", "> 0", "got 0"}},
      {{"--step-size", "-1"}, {"--step-size", "got -1"}},
      {{"--s-churn", "0"}, {"--s-churn", "got 0"}},
      {{"--levels", "1"}, {"--levels", "from 2", "got 1"}},
      {{"--walk", "sideways"}, {"--walk", "overdamped, underdamped", "got sideways"}},
      {{"--chain-start", "middle"}, {"--chain-start", "noise, descent", "got middle"}},
      {{"--friction", "abc"}, {"--friction", "got abc"}},
      {{"--corrector-steps", "-1"}, {"--corrector-steps -1", "out of range"}},
      {{"--s-tmin", "3", "--s-tmax", "1"}, {"--s-tmin 3", "--s-tmax 1"}},
      {{"--sigma-min", "2", "--sigma-max", "1"}, {"--sigma-min 2", "--sigma-max 1"}},
      {{"--sampler", "warp"}, {"--sampler warp", "unknown"}},
      // Flags that would be ignored: a target's without --target, a likelihood's without
      // --likelihood, a network's with --target.
      {{"--schedule", "vp"}, {"--schedule", "--target"}},
      {{"--trace", "exact"}, {"--trace", "--likelihood"}},
      {{"--likelihood-n", "1"}, {"--likelihood-n 1", "from 2"}},
      {{"--target", "gmm8", "--class", "1"}, {"--class", "--target"}},
      {{"--target", "gmm8", "--device", "cuda"}, {"--device cuda", "CPU"}},
      {{"--check", "nowhere"}, {"--check nowhere", "gmm8"}},
  };
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args[0]);
    expect_error([&] { sample_args(args); }, message);
  }
}

TEST(DefaultSampler, EdmHeunIn35EvaluationsForEdmImagesDpmSolverAtTheTableOtherwise) {
  const DefaultSampler images = default_sampler(*make_process("edm"), Shape({1, 28, 28}));
  EXPECT_EQ(images.name, "edm-heun");
  EXPECT_EQ(images.steps, 18);
  for (const char* schedule : {"ddpm-linear", "vp", "edm"}) {
    const DefaultSampler points = default_sampler(*make_process(schedule), Shape({2}));
    EXPECT_EQ(points.name, "dpm-solver++") << schedule;
    EXPECT_EQ(points.steps, 0) << schedule;  // the table's default
  }
  EXPECT_EQ(default_sampler(*make_process("ddpm-linear"), Shape({1, 28, 28})).name, "dpm-solver++");
  // The images' budget: 18 Heun steps are 35 evaluations (the last step is Euler's).
  const ExactTarget t = make_target("two-gaussians:4");
  const MixtureDenoiser den(*t.mixture, make_process("edm"));
  SamplerOptions o;
  o.steps = images.steps;
  EXPECT_EQ(sample(images.name, den, Shape({3, 4}), o).evaluations, 35);
  // `sample` keeps the default's steps when the default is named, and --steps when given.
  EXPECT_EQ(choose_sampler(sample_args({}), images, Device::CPU).options.steps, 18);
  EXPECT_EQ(choose_sampler(sample_args({"--sampler", "edm-heun"}), images, Device::CPU).options.steps, 18);
  EXPECT_EQ(choose_sampler(sample_args({"--steps", "40"}), images, Device::CPU).options.steps, 40);
  const SamplerChoice other = choose_sampler(sample_args({"--sampler", "ddim"}), images, Device::CPU);
  EXPECT_EQ(other.name, "ddim");
  EXPECT_EQ(other.options.steps, 0);  // ddim's own default
}

// ---- sample, as a user runs it ----

bool binaries_present() { return fs::exists(test::bin("sample")); }

CommandResult run(const std::string& command) { return test::run_command(command); }

// The number after `label` in `text` (the first one), or NaN.
double number_after(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  if (at == std::string::npos) return std::nan("");
  return std::strtod(text.c_str() + at + label.size(), nullptr);
}

TEST(SampleTarget, EverySamplerAndOutputOnAnExactTarget) {
  ASSERT_TRUE(binaries_present()) << "make test builds ./sample";
  test::TempDir dir("target");
  for (const std::string& sampler : sampler_names()) {
    const std::string d = dir.path + "/" + sampler;
    // 5 steps (ode-rk45: its default cap of attempts, as 5 attempts cannot reach t_min).
    const std::string steps = sampler == "ode-rk45" ? "" : " --steps 5";
    const CommandResult r =
        run(test::bin("sample") + " --target gmm8 --sampler " + sampler + steps + " --n 20 --threads 1 --out " +
            d + ".png --trajectory " + d + "_traj.png --score-field " + d + "_field.png");
    ASSERT_EQ(r.status, 0) << sampler << ":\n" << r.output;
    for (const char* f : {".png", "_traj.png", "_field.png"})
      EXPECT_TRUE(fs::exists(d + f)) << sampler << f;
  }
  // 16-D points as .npy; an energy by Langevin, with the check against its exact samples.
  ASSERT_EQ(run(test::bin("sample") + " --target two-gaussians:16 --sampler walk-jump --n 30 --threads 1 --out " +
                dir.path + "/x.npy")
                .status,
            0);
  EXPECT_EQ(read_npy(dir.path + "/x.npy").shape(), Shape({30, 16}));
  const CommandResult e =
      run(test::bin("sample") + " --target banana --sampler mala --n 200 --threads 1 --check banana --out " +
          dir.path + "/b.png");
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("mala accepted"), std::string::npos) << e.output;
  EXPECT_NE(e.output.find("energy distance"), std::string::npos) << e.output;
}

TEST(SampleTarget, HelpListsTheTargetsTheLibraryKnows) {
  // The help text of --target is a literal of the settings table: it must not fall behind.
  ASSERT_TRUE(binaries_present());
  const CommandResult r = run(test::bin("sample") + " --help");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(target_names()), std::string::npos) << r.output;
}

TEST(SampleTarget, LikelihoodOfAnExactTargetIsTheExactValue) {
  // The probability-flow ODE with the exact trace on the exact score reproduces the exact
  // log-density at t_min within 0.01 bits/dim (the bound; docs/diffusion.md measured
  // 0.001 on the ring).
  ASSERT_TRUE(binaries_present());
  const CommandResult r = run(test::bin("sample") + " --target gmm8 --likelihood --likelihood-n 100 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  const double ode = number_after(r.output, "probability-flow ODE");
  const double exact = number_after(r.output, "exact log-density of the same points");
  EXPECT_TRUE(std::isfinite(ode) && std::isfinite(exact)) << r.output;
  EXPECT_NEAR(ode, exact, 0.01) << r.output;
  EXPECT_NE(r.output.find("(standard error, N=100)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("DDPM variational bound"), std::string::npos) << r.output;
}

TEST(SampleTarget, BadValuesAreRefusedNamingFlagAndValueAndNothingIsWritten) {
  ASSERT_TRUE(binaries_present());
  test::TempDir dir("badtarget");
  std::ofstream(dir.path + "/bad.txt") << "0.5 1 0\n0.5 oops 1\n";
  const std::string out = " --out " + dir.path + "/x.png";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"--target gmm8 --sampler walk-jump --step-size -0.1", {"--step-size", "> 0", "got -0.1"}},
      {"--target gmm8 --sampler multi-measurement --measurements 0", {"--measurements", "got 0"}},
      {"--target gmm8 --sampler walk-jump --sigma 0", {"--sigma", "> 0", "got 0"}},
      {"--target gmm8 --sampler walk-jump --sigma -2", {"--sigma", "got -2"}},
      {"--target gmm8 --sampler walk-jump --sigma 1000", {"walk-jump", "sigma", "1000", "outside"}},
      {"--target gmm8 --sampler annealed-langevin --levels 1", {"--levels", "got 1"}},
      {"--target gmm8 --walk sideways", {"--walk", "got sideways"}},
      {"--target gmm8 --friction abc", {"--friction", "got abc"}},
      {"--target nowhere", {"--target nowhere", "gmm8"}},
      {"--target " + dir.path + "/bad.txt", {"bad.txt:2:", "'oops'"}},
      {"--target two-gaussians:-3", {"two-gaussians:-3", "'-3'"}},
      {"--target gmm8 --schedule warp", {"--schedule warp"}},
      {"--target banana --sampler ddim", {"--sampler ddim", "banana", "langevin and mala"}},
      {"--target two-gaussians:16", {"--out", "2-D", "16 dimensions"}},
      {"--target gmm8 --likelihood --likelihood-n 1", {"--likelihood-n 1"}},
      {"--target gmm8 --likelihood --trace exactly", {"--trace", "got exactly"}},
      {"--target gmm8 --sampler ddim --sigma 0.5", {"ddim", "does not take sigma"}},
      {"--target gmm8 --sampler ddim --chain-start noise", {"ddim", "chain start", "noise"}},
      {"--target gmm8 --chain-start sideways", {"--chain-start", "got sideways"}},
      {"--target banana --chain-start descent", {"langevin", "energy", "descend"}},
      {"--target gmm8 --check nowhere", {"--check nowhere"}},
      {"--target gmm8 --checkpoint models/fashion-mnist.ckpt", {"--checkpoint", "--target"}},
  };
  for (const auto& [flags, message] : cases) {
    const CommandResult r = run(test::bin("sample") + " " + flags + out + " --threads 1");
    EXPECT_NE(r.status, 0) << flags << "\n" << r.output;
    for (const std::string& m : message)
      EXPECT_NE(r.output.find(m), std::string::npos) << flags << "\nlacks '" << m << "':\n"
                                                     << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir.path + "/x.png")) << flags << " wrote its output";
  }
}

}  // namespace
}  // namespace mindiff
