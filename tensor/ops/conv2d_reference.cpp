// conv2d's oracle: the definitions of conv2d.h as direct loops over every output and every
// kernel tap, summed in double. Slow and obviously right; the tests check rung 1 against it
// (conv2d_kernels.h) and each faster rung against the rung below.
#include "tensor/ops/conv2d.h"
#include "tensor/ops/conv2d_kernels.h"

namespace mindiff {

Tensor conv2d_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride,
                        int padding) {
  const Conv2dGeometry g = check_conv2d(x, weight, bias, stride, padding);
  std::vector<float> xv = x.to_vector(), wv = weight.to_vector();
  std::vector<float> bv = bias.defined() ? bias.to_vector() : std::vector<float>(g.O, 0.0f);
  std::vector<float> out(g.B * g.O * g.HO * g.WO);
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t i = 0; i < g.HO; ++i)
        for (int64_t j = 0; j < g.WO; ++j) {
          double acc = bv[o];
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = i * g.S - g.P + kh, iw = j * g.S - g.P + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                acc += double(wv[((o * g.C + c) * g.KH + kh) * g.KW + kw]) *
                       xv[((b * g.C + c) * g.H + ih) * g.W + iw];
              }
          out[((b * g.O + o) * g.HO + i) * g.WO + j] = static_cast<float>(acc);
        }
  return from_data(out, {g.B, g.O, g.HO, g.WO});
}

Conv2dGrads conv2d_backward_reference(const Tensor& x, const Tensor& weight, const Tensor& dout,
                                      int stride, int padding) {
  const Conv2dGeometry g = check_conv2d(x, weight, Tensor(), stride, padding);
  MD_CHECK(dout.shape() == Shape({g.B, g.O, g.HO, g.WO}), "conv2d_backward_reference: dout ",
           dout.shape().str(), " does not match the output of input ", x.shape().str(),
           " and weight ", weight.shape().str());
  std::vector<float> xv = x.to_vector(), wv = weight.to_vector(), dv = dout.to_vector();
  std::vector<double> dx(xv.size(), 0.0), dw(wv.size(), 0.0), db(g.O, 0.0);
  for (int64_t b = 0; b < g.B; ++b)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t i = 0; i < g.HO; ++i)
        for (int64_t j = 0; j < g.WO; ++j) {
          const double d = dv[((b * g.O + o) * g.HO + i) * g.WO + j];
          db[o] += d;
          for (int64_t c = 0; c < g.C; ++c)
            for (int64_t kh = 0; kh < g.KH; ++kh)
              for (int64_t kw = 0; kw < g.KW; ++kw) {
                const int64_t ih = i * g.S - g.P + kh, iw = j * g.S - g.P + kw;
                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                const int64_t xi = ((b * g.C + c) * g.H + ih) * g.W + iw;
                const int64_t wi = ((o * g.C + c) * g.KH + kh) * g.KW + kw;
                dx[xi] += wv[wi] * d;
                dw[wi] += xv[xi] * d;
              }
        }
  auto to_tensor = [](const std::vector<double>& v, const Shape& s) {
    return from_data(std::vector<float>(v.begin(), v.end()), s);
  };
  return {to_tensor(dx, x.shape()), to_tensor(dw, weight.shape()), to_tensor(db, {g.O})};
}

}  // namespace mindiff
