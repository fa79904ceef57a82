// Kernel cases of `make bench`: SGEMM, conv2d forward / backward-data / backward-weight,
// group_norm and attention forward and backward, at the shapes the U-Net produces.
#include <vector>

#include "autograd/node.h"
#include "bench/bench_cases.h"
#include "nn/attention.h"
#include "tensor/ops.h"
#include "tensor/ops/gemm.h"

namespace mindiff::bench {

void bench_sgemm(int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b, const char* label,
                 int threads) {
  // Stored shapes: A is M x K (K x M when transposed), B is K x N (N x K when transposed).
  std::vector<float> a = randn({m * k}, 1).to_vector(), b = randn({k * n}, 2).to_vector();
  std::vector<float> c(m * n);
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const Timing t = time_runs([] {}, [&] {
    sgemm(trans_a, trans_b, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), n);
  });
  JsonLine("sgemm")
      .add("shape", std::string(label)).add("m", static_cast<long long>(m))
      .add("n", static_cast<long long>(n)).add("k", static_cast<long long>(k))
      .add("trans_a", trans_a ? 1 : 0).add("trans_b", trans_b ? 1 : 0).add("threads", threads)
      .timing(t, 2.0 * m * n * k)
      .print();
}

void bench_sgemm_reference(int64_t size) {
  const int64_t n = size;
  std::vector<float> a = randn({n * n}, 1).to_vector(), b = randn({n * n}, 2).to_vector();
  std::vector<float> c(n * n);
  const Timing t = time_runs([] {}, [&] {
    sgemm_reference(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
  });
  JsonLine("sgemm_reference")
      .add("m", static_cast<long long>(n)).add("n", static_cast<long long>(n))
      .add("k", static_cast<long long>(n)).add("threads", 1)
      .timing(t, 2.0 * n * n * n)
      .print();
}

void bench_conv2d(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t size,
                  int threads) {
  const int64_t k = 3, pad = 1;
  Tensor x = randn({batch, in_channels, size, size}, 3);
  Tensor w = randn({out_channels, in_channels, k, k}, 4) * 0.05f;
  Tensor bias = zeros({out_channels});
  Tensor dout = randn({batch, out_channels, size, size}, 5);
  // Multiply-adds: every output takes C*K*K of them; backward-data and backward-weight are
  // each one forward's worth (dbias is negligible).
  const double flops = 2.0 * batch * out_channels * size * size * in_channels * k * k;
  auto line = [&](const char* name, const Timing& t) {
    JsonLine(name)
        .add("b", static_cast<long long>(batch)).add("c", static_cast<long long>(in_channels))
        .add("o", static_cast<long long>(out_channels)).add("h", static_cast<long long>(size))
        .add("w", static_cast<long long>(size)).add("kernel", static_cast<long long>(k))
        .add("padding", static_cast<long long>(pad)).add("threads", threads)
        .timing(t, flops)
        .print();
  };
  {
    NoGradGuard no_grad;
    line("conv2d_forward", time_runs([] {}, [&] { conv2d(x, w, bias, 1, pad); }));
  }
  // Backward with only x (or only the weights) requiring a gradient: the untimed forward in
  // `setup` builds the graph, the timed part is the backward alone.
  auto backward_case = [&](const char* name, bool data) {
    Tensor xi = x.detach(), wi = w.detach(), bi = bias.detach();
    if (data) {
      xi.requires_grad_();
    } else {
      wi.requires_grad_();
      bi.requires_grad_();
    }
    Tensor out;
    auto setup = [&] {
      xi.zero_grad();
      wi.zero_grad();
      bi.zero_grad();
      out = conv2d(xi, wi, bi, 1, pad);
    };
    line(name, time_runs(setup, [&] { out.backward(dout); }));
  };
  backward_case("conv2d_backward_data", true);
  backward_case("conv2d_backward_weight", false);
}

void bench_group_norm(int64_t batch, int64_t channels, int64_t size, int threads) {
  const int groups = 8;
  Tensor x = randn({batch, channels, size, size}, 6);
  Tensor weight = ones({channels}), bias = zeros({channels});
  Tensor dout = randn(x.shape(), 7);
  // Bytes that must move at least: forward reads x, writes y; backward reads x, dout, writes dx.
  const double bytes = 4.0 * x.numel();
  auto line = [&](const char* name, const Timing& t, double moved) {
    JsonLine(name)
        .add("b", static_cast<long long>(batch)).add("c", static_cast<long long>(channels))
        .add("h", static_cast<long long>(size)).add("w", static_cast<long long>(size))
        .add("groups", groups).add("threads", threads)
        .timing(t, 0.0)
        .add("gbytes_per_s", moved / (t.median_ms * 1e6), 2)
        .print();
  };
  {
    NoGradGuard no_grad;
    line("group_norm_forward",
         time_runs([] {}, [&] { group_norm(x, groups, weight, bias); }), 2 * bytes);
  }
  Tensor xi = x.detach().requires_grad_(), wi = weight.detach().requires_grad_(),
         bi = bias.detach().requires_grad_();
  Tensor out;
  auto setup = [&] {
    xi.zero_grad();
    wi.zero_grad();
    bi.zero_grad();
    out = group_norm(xi, groups, wi, bi);
  };
  line("group_norm_backward", time_runs(setup, [&] { out.backward(dout); }), 3 * bytes);
}

void bench_attention(int64_t batch, int64_t channels, int64_t size, int threads) {
  Generator gen(8);
  nn::Attention attention(channels, gen, 1, 8);
  Tensor x = randn({batch, channels, size, size}, 9);
  Tensor dout = randn(x.shape(), 10);
  // Multiply-adds: qkv (3C^2) and proj (C^2) 1x1 convolutions per position, and q^T k and
  // v w^T (2 T^2 C) per image, T = size^2.
  const double t_len = static_cast<double>(size * size);
  const double flops = 2.0 * batch * (4.0 * channels * channels * t_len + 2.0 * t_len * t_len * channels);
  auto line = [&](const char* name, const Timing& t, double f) {
    JsonLine(name)
        .add("b", static_cast<long long>(batch)).add("c", static_cast<long long>(channels))
        .add("h", static_cast<long long>(size)).add("w", static_cast<long long>(size))
        .add("heads", 1).add("threads", threads)
        .timing(t, f)
        .print();
  };
  {
    NoGradGuard no_grad;
    line("attention_forward", time_runs([] {}, [&] { attention.forward(x); }), flops);
  }
  Tensor xi = x.detach().requires_grad_();
  Tensor out;
  auto setup = [&] {
    xi.zero_grad();
    attention.zero_grad();
    out = attention.forward(xi);
  };
  line("attention_backward", time_runs(setup, [&] { out.backward(dout); }), 2.0 * flops);
}

}  // namespace mindiff::bench
