// Fused softmax attention on the GPU (tensor/ops/attention.h), flash-style: the [T, T] matrix of
// scores is never written to global memory; tiles of it live in shared memory and are remade in
// the backward pass from the saved log-sum-exp of each query's scores.
//
// Per (image, head), with q_i, k_j, v_j the HS-vectors of positions i and j:
//   s_ij = scale q_i . k_j,   L_i = log sum_j exp(s_ij),   p_ij = exp(s_ij - L_i)
//   out_i = sum_j p_ij v_j
// Forward, a block per tile of kBr queries, walking the keys in tiles of kBc with the running
// ("online") softmax: keep m_i (the largest score so far), l_i = sum_j exp(s_ij - m_i) and
// o_i = sum_j exp(s_ij - m_i) v_j; a new tile with maximum m' rescales l_i and o_i by
// exp(m_i - m') before adding its terms. At the end out_i = o_i / l_i and L_i = m_i + log l_i.
// Backward, with D_i = dout_i . out_i (= sum_j p_ij dout_i . v_j):
//   dv_j = sum_i p_ij dout_i
//   ds_ij = p_ij (dout_i . v_j - D_i)
//   dk_j = scale sum_i ds_ij q_i,   dq_i = scale sum_j ds_ij k_j
// as two kernels, one per key tile (dk, dv: a loop over the queries) and one per query tile (dq:
// a loop over the keys), each the only writer of its outputs: no atomics, deterministic. Both
// remake p from q, k and L.
//
// Layout: channels first, as the U-Net holds them: element (d, t) of a head at d * T + t. Tiles
// in shared memory are [HS][kBr] (queries) and [HS][kBc] (keys), dynamic, sized by HS.
#include "cuda/attention.h"

#include <cmath>

#include "cuda/kernel.h"

namespace mindiff {

namespace {

constexpr int kBr = 16, kBc = 16;  // queries, keys per tile
// Row length of a [kBr][kBc] tile of scores that threads read down its columns (one query per
// lane): with 16 floats a row, lanes i and i + 2 would share a bank (an 8-way conflict); 17
// spreads the 16 rows over 16 banks.
constexpr int kScoreLd = kBc + 1;
constexpr int kThreads = 128;

// Columns t0 .. t0 + width - 1 of a head's [HS, T] matrix into tile[d * width + c] (zeros past T).
__device__ __forceinline__ void load_tile(cuda::SharedPtr<float> tile, int64_t base, const float* m,
                                          int64_t hs, int64_t T, int64_t t0, int width) {
  for (int64_t e = threadIdx.x; e < hs * width; e += blockDim.x) {
    const int64_t d = e / width, c = e % width;
    tile[base + e] = t0 + c < T ? m[d * T + t0 + c] : 0.0f;
  }
}

// Scores of a query tile against a key tile: s[i * kScoreLd + j] = scale q_i . k_j, or -infinity
// for a key past T (it takes no part in the softmax).
__device__ __forceinline__ void scores(cuda::SharedPtr<float> sm, int64_t q_at, int64_t k_at,
                                       int64_t s_at, int64_t hs, int64_t T, int64_t k0, float scale) {
  for (int e = threadIdx.x; e < kBr * kBc; e += blockDim.x) {
    const int i = e / kBc, j = e % kBc;
    float dot = 0.0f;
    for (int64_t d = 0; d < hs; ++d) dot += sm[q_at + d * kBr + i] * sm[k_at + d * kBc + j];
    sm[s_at + i * kScoreLd + j] = k0 + j < T ? scale * dot : -INFINITY;
  }
}

// Block (bh, query tile). Shared: Q [HS][kBr], K [HS][kBc], V [HS][kBc], O [HS][kBr],
// S [kBr][kScoreLd], and per query m, l and the rescale factor.
__global__ void __launch_bounds__(kThreads)
attention_forward_kernel(const float* q, const float* k, const float* v, float scale, int64_t hs,
                         int64_t T, float* out, float* lse) {
  MD_SHARED_DYNAMIC(float, sm);
  const int64_t Q = 0, K = Q + hs * kBr, V = K + hs * kBc, O = V + hs * kBc, S = O + hs * kBr;
  const int64_t M = S + kBr * kScoreLd, L = M + kBr, R = L + kBr;
  const int64_t head = static_cast<int64_t>(blockIdx.y) * hs * T, q0 = static_cast<int64_t>(blockIdx.x) * kBr;
  load_tile(sm, Q, q + head, hs, T, q0, kBr);
  for (int64_t e = threadIdx.x; e < hs * kBr; e += blockDim.x) sm[O + e] = 0.0f;
  if (threadIdx.x < kBr) {
    sm[M + threadIdx.x] = -INFINITY;
    sm[L + threadIdx.x] = 0.0f;
  }
  for (int64_t k0 = 0; k0 < T; k0 += kBc) {
    load_tile(sm, K, k + head, hs, T, k0, kBc);
    load_tile(sm, V, v + head, hs, T, k0, kBc);
    __syncthreads();
    scores(sm, Q, K, S, hs, T, k0, scale);
    __syncthreads();
    if (threadIdx.x < kBr) {  // one thread per query: the online softmax update
      const int i = threadIdx.x;
      const float m_old = sm[M + i];
      float m_new = m_old;
      for (int j = 0; j < kBc; ++j) m_new = fmaxf(m_new, sm[S + i * kScoreLd + j]);
      float sum = 0.0f;
      for (int j = 0; j < kBc; ++j) {
        const float p = expf(sm[S + i * kScoreLd + j] - m_new);  // 0 for a key past T
        sm[S + i * kScoreLd + j] = p;
        sum += p;
      }
      const float rescale = expf(m_old - m_new);  // 0 on the first tile (m_old = -infinity)
      sm[L + i] = sm[L + i] * rescale + sum;
      sm[M + i] = m_new;
      sm[R + i] = rescale;
    }
    __syncthreads();
    for (int64_t e = threadIdx.x; e < hs * kBr; e += blockDim.x) {
      const int64_t d = e / kBr;
      const int i = static_cast<int>(e % kBr);
      float acc = sm[O + e] * sm[R + i];
      for (int j = 0; j < kBc; ++j) acc += sm[S + i * kScoreLd + j] * sm[V + d * kBc + j];
      sm[O + e] = acc;
    }
    __syncthreads();  // before the next tile overwrites K, V and S
  }
  for (int64_t e = threadIdx.x; e < hs * kBr; e += blockDim.x) {
    const int64_t d = e / kBr, i = e % kBr;
    if (q0 + i < T) out[head + d * T + q0 + i] = sm[O + e] / sm[L + i];
  }
  if (threadIdx.x < kBr && q0 + threadIdx.x < T)
    lse[static_cast<int64_t>(blockIdx.y) * T + q0 + threadIdx.x] = sm[M + threadIdx.x] + logf(sm[L + threadIdx.x]);
}

// D[bh, i] = dout_i . out_i, one thread per query.
__global__ void attention_delta_kernel(const float* out, const float* dout, int64_t hs, int64_t T,
                                       int64_t n, float* delta) {
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t bh = e / T, i = e % T;
    const float* o = out + bh * hs * T + i;
    const float* g = dout + bh * hs * T + i;
    float acc = 0.0f;
    for (int64_t d = 0; d < hs; ++d) acc += g[d * T] * o[d * T];
    delta[e] = acc;
  }
}

// p_ij and ds_ij of a query tile (BR wide) against a key tile (BC wide) into P and DS
// ([BR][LD], LD >= BC); zero for a query or a key past T. Needs Q, K, V, dO tiles and the
// queries' L and D in shared memory.
template <int BR, int BC, int LD>
__device__ __forceinline__ void probabilities_and_score_grads(
    cuda::SharedPtr<float> sm, int64_t Qt, int64_t Kt, int64_t Vt, int64_t Gt, int64_t Lt,
    int64_t Dt, int64_t P, int64_t DS, int64_t hs, int64_t T, int64_t q0, int64_t k0, float scale) {
  for (int e = threadIdx.x; e < BR * BC; e += blockDim.x) {
    const int i = e / BC, j = e % BC;
    if (q0 + i >= T || k0 + j >= T) {
      sm[P + i * LD + j] = 0.0f;
      sm[DS + i * LD + j] = 0.0f;
      continue;
    }
    float dot = 0.0f, dp = 0.0f;
    for (int64_t d = 0; d < hs; ++d) {
      dot += sm[Qt + d * BR + i] * sm[Kt + d * BC + j];
      dp += sm[Gt + d * BR + i] * sm[Vt + d * BC + j];
    }
    const float p = expf(scale * dot - sm[Lt + i]);
    sm[P + i * LD + j] = p;
    sm[DS + i * LD + j] = p * (dp - sm[Dt + i]);
  }
}

// The log-sum-exp L and D of queries q0 .. q0 + width - 1 of head bh into L[0..width) and
// D[0..width) of shared memory (zeros past T).
__device__ __forceinline__ void load_query_stats(cuda::SharedPtr<float> sm, int64_t Lt, int64_t Dt,
                                                 const float* lse, const float* delta, int64_t bh,
                                                 int64_t T, int64_t q0, int width) {
  if (static_cast<int>(threadIdx.x) < width) {
    const bool in = q0 + threadIdx.x < T;
    sm[Lt + threadIdx.x] = in ? lse[bh * T + q0 + threadIdx.x] : 0.0f;
    sm[Dt + threadIdx.x] = in ? delta[bh * T + q0 + threadIdx.x] : 0.0f;
  }
}

// Block (bh, key tile): dk and dv of its keys, over every query tile (kDkdvBr queries at a time,
// so that the six tiles fit in 48 KiB of shared memory at HS = 128).
// Shared: K, V, dK, dV [HS][kBc]; Q, dO [HS][kDkdvBr]; P, DS [kDkdvBr][kBc]; L, D [kDkdvBr].
constexpr int kDkdvBr = 8;
__global__ void __launch_bounds__(kThreads)
attention_dkdv_kernel(const float* q, const float* k, const float* v, const float* dout,
                      const float* lse, const float* delta, float scale, int64_t hs, int64_t T,
                      float* dk, float* dv) {
  MD_SHARED_DYNAMIC(float, sm);
  const int64_t Kt = 0, Vt = Kt + hs * kBc, dK = Vt + hs * kBc, dV = dK + hs * kBc;
  const int64_t Qt = dV + hs * kBc, Gt = Qt + hs * kDkdvBr, P = Gt + hs * kDkdvBr, DS = P + kDkdvBr * kBc;
  const int64_t Lt = DS + kDkdvBr * kBc, Dt = Lt + kDkdvBr;
  const int64_t bh = blockIdx.y, head = bh * hs * T, k0 = static_cast<int64_t>(blockIdx.x) * kBc;
  load_tile(sm, Kt, k + head, hs, T, k0, kBc);
  load_tile(sm, Vt, v + head, hs, T, k0, kBc);
  for (int64_t e = threadIdx.x; e < hs * kBc; e += blockDim.x) {
    sm[dK + e] = 0.0f;
    sm[dV + e] = 0.0f;
  }
  for (int64_t q0 = 0; q0 < T; q0 += kDkdvBr) {
    load_tile(sm, Qt, q + head, hs, T, q0, kDkdvBr);
    load_tile(sm, Gt, dout + head, hs, T, q0, kDkdvBr);
    load_query_stats(sm, Lt, Dt, lse, delta, bh, T, q0, kDkdvBr);
    __syncthreads();
    probabilities_and_score_grads<kDkdvBr, kBc, kBc>(sm, Qt, Kt, Vt, Gt, Lt, Dt, P, DS, hs, T, q0, k0, scale);
    __syncthreads();
    for (int64_t e = threadIdx.x; e < hs * kBc; e += blockDim.x) {
      const int64_t d = e / kBc;
      const int j = static_cast<int>(e % kBc);
      float acc_v = sm[dV + e], acc_k = sm[dK + e];
      for (int i = 0; i < kDkdvBr; ++i) {
        acc_v += sm[P + i * kBc + j] * sm[Gt + d * kDkdvBr + i];
        acc_k += scale * sm[DS + i * kBc + j] * sm[Qt + d * kDkdvBr + i];
      }
      sm[dV + e] = acc_v;
      sm[dK + e] = acc_k;
    }
    __syncthreads();  // before the next query tile overwrites Q, dO, P and DS
  }
  for (int64_t e = threadIdx.x; e < hs * kBc; e += blockDim.x) {
    const int64_t d = e / kBc, j = e % kBc;
    if (k0 + j < T) {
      dk[head + d * T + k0 + j] = sm[dK + e];
      dv[head + d * T + k0 + j] = sm[dV + e];
    }
  }
}

// Block (bh, query tile): dq of its queries, over every key tile.
// Shared: Q, dO, dQ [HS][kBr]; K, V [HS][kBc]; P, DS [kBr][kScoreLd] (read down columns);
// L, D [kBr].
__global__ void __launch_bounds__(kThreads)
attention_dq_kernel(const float* q, const float* k, const float* v, const float* dout,
                    const float* lse, const float* delta, float scale, int64_t hs, int64_t T,
                    float* dq) {
  MD_SHARED_DYNAMIC(float, sm);
  const int64_t Qt = 0, Gt = Qt + hs * kBr, dQ = Gt + hs * kBr, Kt = dQ + hs * kBr;
  const int64_t Vt = Kt + hs * kBc, P = Vt + hs * kBc, DS = P + kBr * kScoreLd, Lt = DS + kBr * kScoreLd;
  const int64_t Dt = Lt + kBr;
  const int64_t bh = blockIdx.y, head = bh * hs * T, q0 = static_cast<int64_t>(blockIdx.x) * kBr;
  load_tile(sm, Qt, q + head, hs, T, q0, kBr);
  load_tile(sm, Gt, dout + head, hs, T, q0, kBr);
  for (int64_t e = threadIdx.x; e < hs * kBr; e += blockDim.x) sm[dQ + e] = 0.0f;
  load_query_stats(sm, Lt, Dt, lse, delta, bh, T, q0, kBr);
  for (int64_t k0 = 0; k0 < T; k0 += kBc) {
    load_tile(sm, Kt, k + head, hs, T, k0, kBc);
    load_tile(sm, Vt, v + head, hs, T, k0, kBc);
    __syncthreads();
    probabilities_and_score_grads<kBr, kBc, kScoreLd>(sm, Qt, Kt, Vt, Gt, Lt, Dt, P, DS, hs, T, q0, k0, scale);
    __syncthreads();
    for (int64_t e = threadIdx.x; e < hs * kBr; e += blockDim.x) {
      const int64_t d = e / kBr;
      const int i = static_cast<int>(e % kBr);
      float acc = sm[dQ + e];
      for (int j = 0; j < kBc; ++j) acc += scale * sm[DS + i * kScoreLd + j] * sm[Kt + d * kBc + j];
      sm[dQ + e] = acc;
    }
    __syncthreads();  // before the next key tile overwrites K, V, P and DS
  }
  for (int64_t e = threadIdx.x; e < hs * kBr; e += blockDim.x) {
    const int64_t d = e / kBr, i = e % kBr;
    if (q0 + i < T) dq[head + d * T + q0 + i] = sm[dQ + e];
  }
}

unsigned tiles(int64_t T, int width) { return static_cast<unsigned>((T + width - 1) / width); }

}  // namespace

void attention_forward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                            Tensor& out, Tensor& lse) {
  const int64_t B = q.size(0), NH = q.size(1), hs = q.size(2), T = q.size(3);
  out = empty(q.shape(), Device::CUDA);
  lse = empty({B, NH, T}, Device::CUDA);
  if (q.numel() == 0) return;
  const size_t bytes = sizeof(float) * static_cast<size_t>(hs * (2 * kBr + 2 * kBc) + kBr * kScoreLd + 3 * kBr);
  MD_LAUNCH(attention_forward_kernel, dim3(tiles(T, kBr), static_cast<unsigned>(B * NH)), dim3(kThreads),
            bytes, q.data(), k.data(), v.data(), scale, hs, T, out.data(), lse.data());
}

void attention_backward_cuda(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                             const Tensor& out, const Tensor& lse, const Tensor& dout, Tensor& dq,
                             Tensor& dk, Tensor& dv) {
  const int64_t B = q.size(0), NH = q.size(1), hs = q.size(2), T = q.size(3);
  dq = empty(q.shape(), Device::CUDA);
  dk = empty(q.shape(), Device::CUDA);
  dv = empty(q.shape(), Device::CUDA);
  if (q.numel() == 0) return;
  Tensor delta = empty({B, NH, T}, Device::CUDA);
  const int64_t n = B * NH * T;
  MD_LAUNCH(attention_delta_kernel, static_cast<unsigned>((n + 255) / 256 < 65535 ? (n + 255) / 256 : 65535),
            dim3(256), 0, out.data(), dout.data(), hs, T, n, delta.data());
  const size_t shared_dkdv =
      sizeof(float) * static_cast<size_t>(hs * (4 * kBc + 2 * kDkdvBr) + 2 * kDkdvBr * kBc + 2 * kDkdvBr);
  MD_LAUNCH(attention_dkdv_kernel, dim3(tiles(T, kBc), static_cast<unsigned>(B * NH)), dim3(kThreads),
            shared_dkdv, q.data(), k.data(), v.data(), dout.data(), lse.data(), delta.data(), scale,
            hs, T, dk.data(), dv.data());
  const size_t shared_dq =
      sizeof(float) * static_cast<size_t>(hs * (3 * kBr + 2 * kBc) + 2 * kBr * kScoreLd + 2 * kBr);
  MD_LAUNCH(attention_dq_kernel, dim3(tiles(T, kBr), static_cast<unsigned>(B * NH)), dim3(kThreads),
            shared_dq, q.data(), k.data(), v.data(), dout.data(), lse.data(), delta.data(), scale,
            hs, T, dq.data());
}

}  // namespace mindiff
