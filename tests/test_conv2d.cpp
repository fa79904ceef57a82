// conv2d: hand-derived values, every rung of the CPU ladder against the direct-loop references
// and against the rung below (forward and all three gradients), the rung switch, gradient
// checks, determinism and shape errors.
#include <omp.h>

#include <cmath>

#include "tensor/ops/conv2d_kernels.h"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace mindiff {
namespace {

using test::expect_error;
using test::grad_ok;
using test::param;

// A rung (float sums, blocked) against references summed in double, or against another rung
// that sums in another order. Each value is a sum of `terms` products of N(0, 1) draws; float
// rounding of such a sum is about eps * terms in the worst realistic case (eps = 1.2e-7), so 1e-6
// per term leaves ~8x headroom against the reference, ~4x between two float orders (each off by
// up to eps * terms). A wrong index or a missing term is off by O(1).
constexpr float kTolPerTerm = 1e-6f;

// Runs the scope on one rung of the CPU ladder, then restores the one before.
struct UseRung {
  int saved = conv2d_cpu_rung();
  explicit UseRung(int rung) { set_conv2d_cpu_rung(rung); }
  ~UseRung() { set_conv2d_cpu_rung(saved); }
};

void expect_close(const Tensor& got, const Tensor& want, int64_t terms, const char* what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  std::vector<float> g = got.to_vector(), w = want.to_vector();
  const float tol = kTolPerTerm * static_cast<float>(terms);
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::fabs(g[i] - w[i]) <= tol) && bad++ < 5)
      ADD_FAILURE() << what << " element " << i << ": " << g[i] << " vs reference " << w[i];
}

TEST(Conv2d, HandDerivedValues) {
  // x = [1 2 3; 4 5 6; 7 8 9], kernel k = [1 2; 3 4], no padding, stride 1:
  //   out[0,0] = 1*1 + 2*2 + 3*4 + 4*5 = 37    out[0,1] = 1*2 + 2*3 + 3*5 + 4*6 = 47
  //   out[1,0] = 1*4 + 2*5 + 3*7 + 4*8 = 67    out[1,1] = 1*5 + 2*6 + 3*8 + 4*9 = 77
  // plus bias 0.5 each.
  Tensor x = from_data({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor k = from_data({1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor bias = from_data({0.5f}, {1});
  EXPECT_EQ(conv2d(x, k, bias).to_vector(), (std::vector<float>{37.5f, 47.5f, 67.5f, 77.5f}));
  // Padding 1, stride 2: the padded image is 5x5, HO = WO = (3 + 2 - 2)/2 + 1 = 2, windows start
  // at padded (0,0), (0,2), (2,0), (2,2), i.e. image rows/cols -1 and 1:
  //   out[0,0] = 4*x[0,0] = 4                        (only k[1,1] lands inside)
  //   out[0,1] = 3*x[0,1] + 4*x[0,2] = 6 + 12 = 18   (bottom kernel row on image row 0)
  //   out[1,0] = 2*x[1,0] + 4*x[2,0] = 8 + 28 = 36   (right kernel column on image column 0)
  //   out[1,1] = 1*5 + 2*6 + 3*8 + 4*9 = 77
  EXPECT_EQ(conv2d(x, k, Tensor(), 2, 1).to_vector(), (std::vector<float>{4, 18, 36, 77}));
  // Gradients of sum(conv2d(x, k) + bias), stride 1, no padding:
  //   dk[kh,kw] = sum of the 2x2 block of x starting at (kh,kw): [1+2+4+5, 2+3+5+6; 4+5+7+8,
  //   5+6+8+9] = [12 16; 24 28];
  //   dx[h,w] = sum of k over the windows covering (h,w): the corners see one kernel entry,
  //   edges two, the centre all four: [1 3 2; 4 10 6; 3 7 4]; dbias = 4 outputs.
  x.requires_grad_();
  k.requires_grad_();
  bias.requires_grad_();
  sum(conv2d(x, k, bias)).backward();
  EXPECT_EQ(k.grad().to_vector(), (std::vector<float>{12, 16, 24, 28}));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<float>{1, 3, 2, 4, 10, 6, 3, 7, 4}));
  EXPECT_EQ(bias.grad().to_vector(), (std::vector<float>{4}));
}

struct ConvCase {
  int64_t b, c, h, w, o, kh, kw;
  int stride, padding;
  bool bias;
};

// Odd batch sizes exercise both thread splits (whole images, or threads inside an image) and
// B > 16 unequal dweight groups; 1x1 stride-1 unpadded kernels read x itself, no padded copy.
const ConvCase kCases[] = {
    {2, 3, 8, 8, 4, 3, 3, 1, 1, true},    {3, 2, 9, 7, 5, 3, 3, 2, 1, false},
    {1, 4, 6, 10, 3, 1, 1, 1, 0, true},   {5, 3, 7, 5, 2, 1, 1, 2, 0, true},
    {4, 2, 11, 9, 3, 5, 3, 3, 2, true},   {17, 2, 5, 6, 3, 3, 3, 1, 0, false},
    {2, 1, 3, 3, 2, 3, 3, 1, 1, true},    {3, 5, 4, 4, 7, 2, 2, 2, 0, true},
    // Above the threading threshold (1 MFLOP): threads share images or split each image.
    {6, 4, 20, 18, 8, 3, 3, 1, 1, true},  {1, 8, 24, 24, 8, 3, 3, 2, 1, false},
    {3, 16, 12, 12, 16, 1, 1, 1, 0, true},
    // Stride 1 with a square kernel: dx as a convolution with the rotated kernel, padded by
    // K - 1 - P, for every P from 0 to K - 1 (above: 3x3 with P = 0 and 1).
    {2, 3, 9, 8, 4, 5, 5, 1, 2, true},    {1, 2, 3, 4, 3, 3, 3, 1, 2, false},
    {2, 3, 6, 7, 2, 5, 5, 1, 4, true},
    // Stride 1 with O a multiple of 16 up to 64: the product is computed channels last (with
    // the 8 x 8 transposes of the output and their scalar tail), also threaded.
    {2, 5, 9, 11, 16, 3, 3, 1, 1, true},  {1, 3, 7, 6, 32, 3, 2, 1, 1, false},
    {3, 8, 17, 19, 64, 3, 3, 1, 1, true}, {1, 16, 20, 20, 32, 3, 3, 1, 0, true},
    // Small images, several to one product (400 positions: 4 of 10x10), with a short last
    // product (6 = 4 + 2) and, for dweight, groups of 5 images cut 4 + 1.
    {6, 3, 10, 10, 16, 3, 3, 1, 1, true}, {80, 2, 10, 10, 16, 3, 3, 1, 1, false},
    // Strided and channels last: positions i*S*WP + j*S of the padded image.
    {2, 4, 13, 11, 16, 3, 3, 2, 1, true}, {3, 8, 14, 14, 32, 3, 3, 2, 1, false},
};

// One case's forward and three gradients on one rung (dout drawn from `seed`).
struct ConvResult {
  Tensor out, dx, dweight, dbias;
};
ConvResult run_case(const ConvCase& c, uint64_t seed, int rung) {
  UseRung use(rung);
  Tensor x = param({c.b, c.c, c.h, c.w}, seed);
  Tensor w = param({c.o, c.c, c.kh, c.kw}, seed + 1);
  Tensor bias = c.bias ? param({c.o}, seed + 2) : Tensor();
  Tensor out = conv2d(x, w, bias, c.stride, c.padding);
  out.backward(randn(out.shape(), seed + 3));
  return {out, x.grad(), w.grad(), c.bias ? bias.grad() : Tensor()};
}

Conv2dGeometry geometry(const ConvCase& c) {
  return check_conv2d(zeros({c.b, c.c, c.h, c.w}), zeros({c.o, c.c, c.kh, c.kw}), Tensor(),
                      c.stride, c.padding);
}

// Summed terms per output: forward (with the bias), dx, dweight and dbias.
struct Terms {
  int64_t out, dx, dweight, dbias;
};
Terms terms(const ConvCase& c) {
  const Conv2dGeometry g = geometry(c);
  return {g.rows() + 1, c.o * c.kh * c.kw, c.b * g.cols(), c.b * g.cols()};
}

TEST(Conv2d, EveryRungMatchesDirectLoops) {
  uint64_t seed = 300;
  for (const ConvCase& c : kCases) {
    seed += 4;
    for (int rung = 1; rung <= kConv2dFastestRung; ++rung) {
      SCOPED_TRACE(::testing::Message() << "rung " << rung << ", case x [" << c.b << ", " << c.c
                                        << ", " << c.h << ", " << c.w << "] O " << c.o);
      const ConvResult r = run_case(c, seed, rung);
      Tensor x = param({c.b, c.c, c.h, c.w}, seed), w = param({c.o, c.c, c.kh, c.kw}, seed + 1);
      Tensor bias = c.bias ? param({c.o}, seed + 2) : Tensor();
      const Terms n = terms(c);
      expect_close(r.out, conv2d_reference(x, w, bias, c.stride, c.padding), n.out, "forward");
      Conv2dGrads ref = conv2d_backward_reference(x, w, randn(r.out.shape(), seed + 3), c.stride,
                                                  c.padding);
      expect_close(r.dx, ref.dx, n.dx, "dx");
      expect_close(r.dweight, ref.dweight, n.dweight, "dweight");
      if (c.bias) expect_close(r.dbias, ref.dbias, n.dbias, "dbias");
    }
  }
}

// Which path of conv2d_kernels.h's table a rung's forward takes adds the bias first (im2col,
// sgemm onto the bias) rather than after the product (gathered, channels last).
bool adds_bias_first(int rung, const Conv2dGeometry& g) {
  return !(rung >= 3 && channels_last(g)) && !(rung >= 2 && g.S == 1);
}

// Each rung against the one below. Where both sum the same terms in the same order they must
// agree bit for bit; elsewhere within kTolPerTerm per term (see conv2d_kernels.h):
//   forward  differs only by where the bias is added (rung 1 first, rungs 2 and 3 last)
//   dx       rung 2's dx by convolution sums O*K*K products at once, rung 1's col2im sums O
//            per column and then scatters; rung 3 runs the same convolution on rung 3's forward
//   dweight  rung 1 sums all images in float in image order; rung 2 sums each group of images
//            in float and the groups in double (the same order for one image); rung 3 puts
//            several images of a group in one product (the same order when each group has one)
//   dbias    one function on every rung
TEST(Conv2d, EachRungMatchesTheRungBelow) {
  uint64_t seed = 500;
  for (const ConvCase& c : kCases) {
    seed += 4;
    const Conv2dGeometry g = geometry(c);
    const Terms n = terms(c);
    for (int rung = 2; rung <= kConv2dFastestRung; ++rung) {
      SCOPED_TRACE(::testing::Message() << "rung " << rung << " against " << rung - 1
                                        << ", case x [" << c.b << ", " << c.c << ", " << c.h
                                        << ", " << c.w << "] O " << c.o << " stride "
                                        << c.stride);
      const ConvResult hi = run_case(c, seed, rung), lo = run_case(c, seed, rung - 1);
      if (!c.bias || adds_bias_first(rung, g) == adds_bias_first(rung - 1, g))
        EXPECT_EQ(hi.out.to_vector(), lo.out.to_vector()) << "forward";
      else
        expect_close(hi.out, lo.out, n.out, "forward");
      if (rung == 2 && dx_by_convolution(g))
        expect_close(hi.dx, lo.dx, n.dx, "dx");
      else
        EXPECT_EQ(hi.dx.to_vector(), lo.dx.to_vector()) << "dx";
      const bool same_dweight_order =
          rung == 2 ? c.b == 1 : c.b <= kWeightGradGroups || images_per_product(g) == 1;
      if (same_dweight_order)
        EXPECT_EQ(hi.dweight.to_vector(), lo.dweight.to_vector()) << "dweight";
      else
        expect_close(hi.dweight, lo.dweight, n.dweight, "dweight");
      if (c.bias) {
        EXPECT_EQ(hi.dbias.to_vector(), lo.dbias.to_vector()) << "dbias";
      }
    }
  }
}

TEST(Conv2d, RungSwitch) {
  EXPECT_EQ(conv2d_cpu_rung(), kConv2dFastestRung);  // the suite runs without MINDIFF_CONV
  for (int bad : {0, 4})
    expect_error([bad] { set_conv2d_cpu_rung(bad); },
                 {"rung must be 1", "got " + std::to_string(bad)});
  // The environment variable, as a user sets it: a bad value fails the first convolution.
  test::TempDir dir("conv_rung");
  const test::CommandResult r = test::run_command(
      "MINDIFF_CONV=4 " + test::bin("sample") + " --n 1 --steps 1 --threads 1 --out " + dir.path +
      "/x.png");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("MINDIFF_CONV='4'"), std::string::npos) << r.output;
}

// The forward and the three gradients of 5 images of 20x20 (about 2 MFLOP) on `threads`.
std::vector<std::vector<float>> five_images(int64_t channels, int threads) {
  omp_set_num_threads(threads);
  Tensor x = param({5, 3, 20, 20}, 1), w = param({channels, 3, 3, 3}, 2),
         bias = param({channels}, 3);
  Tensor out = conv2d(x, w, bias, 1, 1);
  out.backward(randn(out.shape(), 4));
  return {out.to_vector(), x.grad().to_vector(), w.grad().to_vector(), bias.grad().to_vector()};
}

TEST(Conv2d, SameBitsForAnyThreadCount) {
  const int saved = omp_get_max_threads();
  // One thread, threads inside each image (2, 3 threads), and one image per thread (5
  // threads); with 8 output channels and with 16 (channels last), on every rung.
  for (int rung = 1; rung <= kConv2dFastestRung; ++rung) {
    UseRung use(rung);
    for (int64_t channels : {8, 16}) {
      const std::vector<std::vector<float>> first = five_images(channels, 1);
      for (int threads : {2, 3, 5}) {
        const std::vector<std::vector<float>> got = five_images(channels, threads);
        for (size_t i = 0; i < got.size(); ++i)
          EXPECT_EQ(got[i], first[i]) << "result " << i << " with " << threads << " threads, "
                                      << channels << " channels, rung " << rung;
      }
    }
  }
  omp_set_num_threads(saved);
}

TEST(Conv2d, Gradients) {
  auto f = [](int s, int p) {
    return [s, p](const std::vector<Tensor>& in) {
      return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), s, p);
    };
  };
  // 3x3 kernels, non-square images, stride 1 and 2, padding 0 and 1, with and without bias.
  for (int s : {1, 2})
    for (int p : {0, 1}) {
      EXPECT_TRUE(grad_ok(gradcheck("conv2d", f(s, p),
                                    {param({2, 2, 5, 6}, 10 + s * 2 + p), param({3, 2, 3, 3}, 20),
                                     param({3}, 21)})))
          << "stride " << s << " padding " << p;
      EXPECT_TRUE(grad_ok(gradcheck("conv2d", f(s, p),
                                    {param({1, 3, 6, 4}, 30 + s * 2 + p), param({2, 3, 3, 3}, 40)})))
          << "stride " << s << " padding " << p << " without bias";
    }
  // 1x1 kernels: stride 1 without padding (x read in place) and stride 2 with padding.
  EXPECT_TRUE(grad_ok(
      gradcheck("conv2d", f(1, 0), {param({2, 3, 4, 5}, 50), param({2, 3, 1, 1}, 51), param({2}, 52)})));
  EXPECT_TRUE(grad_ok(
      gradcheck("conv2d", f(2, 1), {param({2, 3, 4, 5}, 53), param({2, 3, 1, 1}, 54)})));
  // Non-contiguous input and weight (H and W swapped in memory).
  Tensor xt = test::param_transposed({2, 2, 5, 4}, 60);
  Tensor wt = test::param_transposed({3, 2, 3, 2}, 61);
  EXPECT_FALSE(xt.is_contiguous());
  EXPECT_TRUE(grad_ok(gradcheck("conv2d", f(1, 1), {xt, wt, param({3}, 62)})));
  // Only the weight requires grad (a frozen input), and only the input (a frozen layer).
  EXPECT_TRUE(grad_ok(gradcheck("conv2d", f(1, 1), {randn({2, 2, 4, 4}, 63), param({2, 2, 3, 3}, 64)})));
  EXPECT_TRUE(grad_ok(gradcheck("conv2d", f(1, 1), {param({2, 2, 4, 4}, 65), randn({2, 2, 3, 3}, 66)})));
}

TEST(Conv2d, ShapeErrors) {
  expect_error([] { conv2d(zeros({2, 3, 8, 8}), zeros({4, 2, 3, 3})); },
               {"conv2d", "[2, 3, 8, 8]", "has 3 channels", "[4, 2, 3, 3]", "expects 2"});
  expect_error([] { conv2d(zeros({3, 8, 8}), zeros({4, 3, 3, 3})); },
               {"conv2d", "input [3, 8, 8]", "rank 4"});
  expect_error([] { conv2d(zeros({1, 3, 8, 8}), zeros({3, 3, 3})); },
               {"conv2d", "weight [3, 3, 3]", "rank 4"});
  expect_error([] { conv2d(zeros({1, 2, 2, 2}), zeros({4, 2, 5, 5}), Tensor(), 1, 1); },
               {"conv2d", "[4, 2, 5, 5]", "[1, 2, 2, 2]", "larger than"});
  expect_error([] { conv2d(zeros({1, 2, 5, 5}), zeros({4, 2, 3, 3}), zeros({3})); },
               {"conv2d", "bias [3]", "[4, 2, 3, 3]"});
  expect_error([] { conv2d(zeros({1, 2, 5, 5}), zeros({4, 2, 3, 3}), Tensor(), 0, 0); },
               {"conv2d", "stride 0"});
}

}  // namespace
}  // namespace mindiff
