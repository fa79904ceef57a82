// Kernel cases of `make bench`: SGEMM, conv2d forward / backward-data / backward-weight,
// group_norm (alone, fused with SiLU, and followed by SiLU) and attention forward and backward,
// at the shapes the U-Net produces; the FMA peak the GFLOP/s figures are measured against.
#include <immintrin.h>
#include <omp.h>

#include <vector>

#include "autograd/node.h"
#include "bench/bench_cases.h"
#include "nn/attention.h"
#include "tensor/ops.h"
#include "tensor/ops/gemm.h"

namespace mindiff::bench {

// The processor's FP32 peak as code can reach it: every thread runs chains of fused multiply-adds
// on 8-float AVX vectors with 10 independent accumulators (more than FMA latency x issue width of
// current x86 cores, 4-5 cycles x 2 per cycle), without memory traffic. flops = 16 per FMA.
// The chains must start from different values: chains that start equal and get the same updates
// are one chain to the compiler, which then keeps one accumulator (GCC 12 does) and the loop
// measures the latency of one FMA instead of the throughput of ten.
#if defined(__AVX2__) && defined(__FMA__)
void bench_fma_peak(int threads) {
  constexpr int64_t kIterations = 20'000'000;
  constexpr int kChains = 10;
  std::vector<float> sink(threads);
  auto run = [&] {
#pragma omp parallel num_threads(threads)
    {
      const __m256 mul = _mm256_set1_ps(0.999999f), add = _mm256_set1_ps(1e-7f);
      const float s = 0.1f * (omp_get_thread_num() + 1);
      __m256 a0 = _mm256_set1_ps(s), a1 = _mm256_set1_ps(s + 0.01f), a2 = _mm256_set1_ps(s + 0.02f),
             a3 = _mm256_set1_ps(s + 0.03f), a4 = _mm256_set1_ps(s + 0.04f),
             a5 = _mm256_set1_ps(s + 0.05f), a6 = _mm256_set1_ps(s + 0.06f),
             a7 = _mm256_set1_ps(s + 0.07f), a8 = _mm256_set1_ps(s + 0.08f),
             a9 = _mm256_set1_ps(s + 0.09f);
      for (int64_t i = 0; i < kIterations; ++i) {
        a0 = _mm256_fmadd_ps(a0, mul, add);
        a1 = _mm256_fmadd_ps(a1, mul, add);
        a2 = _mm256_fmadd_ps(a2, mul, add);
        a3 = _mm256_fmadd_ps(a3, mul, add);
        a4 = _mm256_fmadd_ps(a4, mul, add);
        a5 = _mm256_fmadd_ps(a5, mul, add);
        a6 = _mm256_fmadd_ps(a6, mul, add);
        a7 = _mm256_fmadd_ps(a7, mul, add);
        a8 = _mm256_fmadd_ps(a8, mul, add);
        a9 = _mm256_fmadd_ps(a9, mul, add);
      }
      __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                 _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
      sum = _mm256_add_ps(sum, _mm256_add_ps(a8, a9));
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, sum);
      sink[omp_get_thread_num()] = lanes[0];
    }
  };
  const Timing t = time_runs([] {}, run, 3, 0.2);
  JsonLine("fma_peak")
      .add("threads", threads)
      .timing(t, 16.0 * kChains * kIterations * threads)
      .print();
}
#else
void bench_fma_peak(int) {}  // no AVX2/FMA build: no peak figure
#endif

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
  // Each form timed forward (no grad) and backward: group_norm alone, group_norm_silu (fused),
  // and silu(group_norm(x)) (the composition the fused op replaces; its bytes are counted as the
  // fused op's, so the two GB/s compare as times).
  using NormFn = Tensor (*)(const Tensor&, int, const Tensor&, const Tensor&);
  auto composed = [](const Tensor& xv, int g, const Tensor& w, const Tensor& b) {
    return silu(group_norm(xv, g, w, b));
  };
  auto fused = [](const Tensor& xv, int g, const Tensor& w, const Tensor& b) {
    return group_norm_silu(xv, g, w, b);
  };
  auto plain = [](const Tensor& xv, int g, const Tensor& w, const Tensor& b) {
    return group_norm(xv, g, w, b);
  };
  const struct {
    const char* forward;
    const char* backward;
    NormFn fn;
  } forms[] = {{"group_norm_forward", "group_norm_backward", plain},
               {"group_norm_silu_forward", "group_norm_silu_backward", fused},
               {"group_norm_then_silu_forward", "group_norm_then_silu_backward", composed}};
  for (const auto& form : forms) {
    {
      NoGradGuard no_grad;
      line(form.forward, time_runs([] {}, [&] { form.fn(x, groups, weight, bias); }), 2 * bytes);
    }
    Tensor xi = x.detach().requires_grad_(), wi = weight.detach().requires_grad_(),
           bi = bias.detach().requires_grad_();
    Tensor out;
    auto setup = [&] {
      xi.zero_grad();
      wi.zero_grad();
      bi.zero_grad();
      out = form.fn(xi, groups, wi, bi);
    };
    line(form.backward, time_runs(setup, [&] { out.backward(dout); }), 3 * bytes);
  }
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
