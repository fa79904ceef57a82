// conv2d, the op (formulas and shapes in conv2d.h): checks the arguments, computes the geometry
// once for either backend, picks the rung of the CPU ladder (conv2d_kernels.h), and records the
// backward.
#include "tensor/ops/conv2d.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "cuda/conv2d.h"
#include "tensor/ops/common.h"
#include "tensor/ops/conv2d_kernels.h"

namespace mindiff {

namespace {

const OpInfo kConv2d("conv2d");

void check_rung(int rung, const std::string& source) {
  MD_CHECK(rung >= 1 && rung <= kConv2dFastestRung, source, ": conv2d rung must be 1 (im2col + ",
           "sgemm), 2 (gathered) or 3 (channels last), got ", rung);
}

int rung_from_environment() {
  const char* text = std::getenv("MINDIFF_CONV");
  if (!text || !*text) return kConv2dFastestRung;
  const std::string s(text);
  check_rung(s.size() == 1 && s[0] >= '0' && s[0] <= '9' ? s[0] - '0' : -1,
             "MINDIFF_CONV='" + s + "'");
  return s[0] - '0';
}

// Read from the environment on first use (a bad value fails that first convolution).
std::atomic<int>& rung_setting() {
  static std::atomic<int> rung{rung_from_environment()};
  return rung;
}

Conv2dGrads conv2d_backward_cpu(const Tensor& x, const Tensor& w, const Tensor& dout,
                                const Conv2dGeometry& g, bool need_dx, bool need_dw,
                                bool need_db, int rung) {
  const Tensor dc = dout.contiguous();  // often an expanded view (the backward of sum)
  Conv2dGrads r;
  if (need_db) r.dbias = conv2d_dbias(dc, g);
  if (need_dx) {
    const Tensor wc = w.contiguous();
    r.dx = rung >= 2 && dx_by_convolution(g) ? conv2d_dx_by_convolution(wc, dc, g, rung)
                                             : conv2d_dx_col2im(wc, dc, g);
  }
  if (need_dw) {
    const Tensor xc = x.contiguous();
    const int64_t images = rung >= 3 ? images_per_product(g) : 1;
    r.dweight = rung == 1 ? conv2d_dweight_im2col(xc, dc, g)
                          : conv2d_dweight_gathered(xc, dc, g, images);
  }
  return r;
}

}  // namespace

int conv2d_cpu_rung() { return rung_setting().load(); }

void set_conv2d_cpu_rung(int rung) {
  check_rung(rung, "set_conv2d_cpu_rung");
  rung_setting().store(rung);
}

Conv2dGeometry check_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int stride,
                            int padding) {
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  MD_CHECK(x.ndim() == 4, "conv2d: input ", xs.str(), " must have rank 4 [B, C, H, W]");
  MD_CHECK(w.ndim() == 4, "conv2d: weight ", ws.str(), " must have rank 4 [O, C, KH, KW]");
  MD_CHECK(xs[1] == ws[1], "conv2d: input ", xs.str(), " has ", xs[1], " channels but weight ",
           ws.str(), " expects ", ws[1]);
  MD_CHECK(stride >= 1 && padding >= 0, "conv2d: stride ", stride, " and padding ", padding,
           " must be >= 1 and >= 0");
  if (bias.defined())
    MD_CHECK(bias.ndim() == 1 && bias.shape()[0] == ws[0], "conv2d: bias ", bias.shape().str(),
             " does not match weight ", ws.str(), " (expected [", ws[0], "])");
  const int64_t ph = xs[2] + 2 * padding, pw = xs[3] + 2 * padding;
  MD_CHECK(ws[2] <= ph && ws[3] <= pw, "conv2d: weight ", ws.str(), " has a ", ws[2], "x", ws[3],
           " kernel, larger than input ", xs.str(), " with padding ", padding, " (", ph, "x", pw,
           ")");
  return {xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], (ph - ws[2]) / stride + 1,
          (pw - ws[3]) / stride + 1, stride, padding};
}

// Each rung's idea where it applies, else the rung below (x, w and bias contiguous).
Tensor conv2d_forward_cpu(const Tensor& x, const Tensor& w, const Tensor& bias,
                          const Conv2dGeometry& g, int rung) {
  if (rung >= 3 && channels_last(g)) return conv2d_forward_channels_last(x, w, bias, g);
  if (rung >= 2 && g.S == 1) return conv2d_forward_gathered(x, w, bias, g);
  return conv2d_forward_im2col(x, w, bias, g);
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int padding) {
  const Device device = common_device("conv2d", {x, weight, bias});
  const Conv2dGeometry g = check_conv2d(x, weight, bias, stride, padding);
  const int rung = device == Device::CPU ? conv2d_cpu_rung() : 0;
  Tensor out;
  if (device == Device::CUDA) {
    out = conv2d_forward_cuda(x, weight, bias, g);
  } else {
    const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
    out = conv2d_forward_cpu(x.detach().contiguous(), weight.detach().contiguous(), bc, g, rung);
  }
  if (needs_grad({x, weight, bias}))
    record(kConv2d, out, {x, weight, bias},
           [xd = x.detach(), wd = weight.detach(), g, rung, gx = x.requires_grad(),
            gw = weight.requires_grad(),
            gb = bias.defined() && bias.requires_grad()](const Tensor& dout) {
             const Conv2dGrads r = dout.device() == Device::CUDA
                                       ? conv2d_backward_cuda(xd, wd, dout, g, gx, gw, gb)
                                       : conv2d_backward_cpu(xd, wd, dout, g, gx, gw, gb, rung);
             return std::vector<Tensor>{r.dx, r.dweight, r.dbias};
           });
  return out;
}

}  // namespace mindiff
