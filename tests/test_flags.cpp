// Command-line flags: forms, defaults, errors that name the flag and the value, and integer
// ranges.
#include "diffusion/flags.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;

Flags make_flags() {
  Flags f("prog", "does things");
  f.add_string("data", "fashion-mnist", "dataset");
  f.add_int("steps", 100, "training steps");
  f.add_float("lr", 2e-4, "learning rate");
  f.add_bool("ema", true, "use EMA weights");
  return f;
}

bool parse(Flags& f, std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return f.parse(static_cast<int>(args.size()), args.data());
}

TEST(Flags, DefaultsAndBothValueForms) {
  Flags f = make_flags();
  ASSERT_TRUE(parse(f, {"--steps", "7", "--lr=0.5", "--no-ema"}));
  EXPECT_EQ(f.get_int("steps"), 7);
  EXPECT_DOUBLE_EQ(f.get_float("lr"), 0.5);
  EXPECT_FALSE(f.get_bool("ema"));
  EXPECT_EQ(f.get_string("data"), "fashion-mnist");
  EXPECT_TRUE(f.was_set("steps"));
  EXPECT_FALSE(f.was_set("data"));
  Flags g = make_flags();
  ASSERT_TRUE(parse(g, {"--ema", "--data", "toy"}));
  EXPECT_TRUE(g.get_bool("ema"));
  EXPECT_EQ(g.get_string("data"), "toy");
}

TEST(Flags, HelpListsEveryFlag) {
  Flags f = make_flags();
  EXPECT_FALSE(parse(f, {"--steps", "3", "--help"}));
  std::string u = f.usage();
  for (const char* name : {"--data", "--steps", "--lr", "--ema / --no-ema", "default: 100"})
    EXPECT_NE(u.find(name), std::string::npos) << name;
}

TEST(Flags, BadInputNamesTheFlag) {
  Flags a = make_flags();
  expect_error([&] { parse(a, {"--stepz", "3"}); }, {"unknown flag --stepz"});
  Flags b = make_flags();
  expect_error([&] { parse(b, {"--steps", "ten"}); }, {"--steps", "integer", "'ten'"});
  Flags c = make_flags();
  expect_error([&] { parse(c, {"--lr=nan"}); }, {"--lr", "number", "'nan'"});
  Flags d = make_flags();
  expect_error([&] { parse(d, {"--steps"}); }, {"--steps", "needs a value"});
  Flags e = make_flags();
  expect_error([&] { parse(e, {"stray"}); }, {"unexpected argument 'stray'"});
  Flags g = make_flags();
  expect_error([&] { parse(g, {"--ema=maybe"}); }, {"--ema", "'maybe'"});
}

// Issue #17: `--threads 65536` (sample) and `--threads 100000` (train) died with SIGSEGV in
// libgomp, and `sample --steps 4294967297` wrapped to 1 through an int. A ranged flag refuses
// a value outside its range by name, and --help shows the range.
TEST(Flags, RangedIntegersRefuseValuesOutside) {
  auto ranged = [] {
    Flags f("prog", "does things");
    f.add_int("threads", 0, "CPU threads", kThreadsRange);
    f.add_int("steps", 0, "sampler steps", kIntCountRange);
    f.add_int("n", 64, "samples", {1, 1000});
    return f;
  };
  Flags ok = ranged();
  ASSERT_TRUE(parse(ok, {"--threads", "1024", "--steps", "2147483647", "--n=1"}));
  EXPECT_EQ(ok.get_int("threads"), 1024);
  EXPECT_EQ(ok.get_int("steps"), 2147483647);
  for (const char* t : {"65536", "100000", "-1"}) {
    Flags f = ranged();
    expect_error([&] { parse(f, {"--threads", t}); }, {"--threads", t, "out of range", "0 to 1024"});
  }
  Flags w = ranged();
  expect_error([&] { parse(w, {"--steps=4294967297"}); }, {"--steps", "4294967297", "out of range"});
  Flags z = ranged();
  expect_error([&] { parse(z, {"--n", "0"}); }, {"--n", "from 1 to 1000"});
  EXPECT_NE(ranged().usage().find("default: 0; from 0 to 1024"), std::string::npos);
  // A default outside the range is a programming error, reported at once.
  Flags bad("prog", "");
  expect_error([&] { bad.add_int("k", 5, "", {0, 3}); }, {"--k", "default 5"});
}

}  // namespace
}  // namespace mindiff
