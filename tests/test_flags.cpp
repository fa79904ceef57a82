// Command-line flags: forms, defaults, and errors that name the flag and the value.
#include "diffusion/app/flags.h"
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


}  // namespace
}  // namespace mindiff
