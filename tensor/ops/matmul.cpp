// Batched matmul on sgemm (see matmul.h for shapes and the derivative).
//
// Every operand is reduced to what sgemm takes: for batch index (i0, i1) of the output, a
// matrix at data + i0 * bs[0] + i1 * bs[1] with a transpose flag and a leading dimension, where
// bs are the operand's batch strides read against the output's batch shape (0 along broadcast
// axes). The backward uses the same forward on transposed views, so it never copies a transpose.
#include "tensor/ops/matmul.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <vector>

#include "cuda/matmul.h"
#include "tensor/ops/common.h"
#include "tensor/ops/gemm.h"
#include "tensor/ops/reduce.h"

namespace mindiff {

namespace {

const OpInfo kMatmul("matmul");

// One operand as sgemm sees it.
struct GemmOperand {
  Tensor storage;  // keeps a contiguous copy alive when one was needed
  const float* data = nullptr;
  bool trans = false;
  int64_t ld = 0;
  std::array<int64_t, 2> batch_stride{0, 0};  // against the output batch, padded to 2 axes
};

// `t` is [..., R, C]; `batch` is the output's batch shape (rank <= 2).
GemmOperand gemm_operand(const Tensor& t, const Shape& batch) {
  GemmOperand op;
  const int nd = t.ndim();
  const int64_t rows = t.shape()[nd - 2], cols = t.shape()[nd - 1];
  // Rows and columns with unit stride along columns: a plain row-major matrix (ld = row stride);
  // unit stride along rows: the transpose of one (ld = column stride). An extent of 1 may carry
  // any stride. Anything else (a stepped slice, an expanded matrix) is copied.
  auto plain = [&](const Tensor& v) { return cols == 1 || v.strides()[nd - 1] == 1; };
  auto transposed = [&](const Tensor& v) { return rows == 1 || v.strides()[nd - 2] == 1; };
  op.storage = (plain(t) || transposed(t)) ? t.detach() : t.detach().contiguous();
  const Shape& st = op.storage.strides();
  op.trans = !plain(op.storage);
  op.ld = op.trans ? st[nd - 1] : st[nd - 2];
  op.data = op.storage.data();
  // Batch axes of t, right-aligned with the output's (padded to two).
  const int t_batch = nd - 2, pad = 2 - batch.ndim();
  for (int i = 0; i < t_batch; ++i) {
    if (t.shape()[i] == 1) continue;  // broadcast: stride 0
    op.batch_stride[pad + batch.ndim() - t_batch + i] = st[i];
  }
  return op;
}

// Product of the two batch shapes, or an error naming both operands.
Shape batch_shape(const Tensor& a, const Tensor& b) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  std::vector<int64_t> ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const size_t n = std::max(ba.size(), bb.size());
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i + ba.size() >= n ? ba[i + ba.size() - n] : 1;
    int64_t db = i + bb.size() >= n ? bb[i + bb.size() - n] : 1;
    MD_CHECK(da == db || da == 1 || db == 1, "matmul: cannot multiply ", sa.str(), " by ",
             sb.str(), " (batch axes ", Shape(ba).str(), " and ", Shape(bb).str(),
             " do not broadcast)");
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

// The shape of a @ b, or an error naming both operands.
Shape matmul_shape(const Tensor& a, const Tensor& b) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  MD_CHECK(a.ndim() >= 2 && b.ndim() >= 2, "matmul: cannot multiply ", sa.str(), " by ",
           sb.str(), " (both operands need rank 2 to 4)");
  const int64_t m = sa[a.ndim() - 2], k = sa[a.ndim() - 1];
  const int64_t kb = sb[b.ndim() - 2], n = sb[b.ndim() - 1];
  MD_CHECK(k == kb, "matmul: cannot multiply ", sa.str(), " by ", sb.str(), " (inner extents ",
           k, " and ", kb, " differ)");
  const Shape batch = batch_shape(a, b);
  std::vector<int64_t> out_dims(batch.begin(), batch.end());
  out_dims.push_back(m);
  out_dims.push_back(n);
  return Shape(out_dims);
}

Tensor matmul_forward_cpu(const Tensor& a, const Tensor& b) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const Shape out_shape = matmul_shape(a, b);
  const int64_t m = sa[a.ndim() - 2], k = sa[a.ndim() - 1], n = sb[b.ndim() - 1];
  const Shape batch = batch_shape(a, b);
  Tensor out = empty(out_shape);
  if (out.numel() == 0) return out;

  // One sgemm over all rows when b is one matrix shared by the whole batch and a's matrices are
  // stacked rows ([B, T, C] @ [C, D] becomes (B*T) x C @ C x D): longer panels, same values
  // (sgemm computes each row of C the same way whatever M is).
  if (a.is_contiguous() && Shape(std::vector<int64_t>(sb.begin(), sb.end() - 2)).numel() == 1) {
    GemmOperand ob = gemm_operand(b, Shape());
    const int64_t rows = out.numel() / n;  // batch * M
    sgemm(false, ob.trans, rows, n, k, 1.0f, a.data(), k, ob.data, ob.ld, 0.0f, out.data(), n);
    return out;
  }

  GemmOperand oa = gemm_operand(a, batch), ob = gemm_operand(b, batch);
  const int64_t nb1 = batch.ndim() >= 1 ? batch[batch.ndim() - 1] : 1;
  const int64_t nbatch = batch.numel();
  float* o = out.data();
  // Many products: one per thread (sgemm runs serially inside a parallel region). Few: one after
  // another, each threaded inside sgemm. Either way each output is computed the same way (so the
  // batch items may go to whichever thread is free).
  const bool per_thread = nbatch >= omp_get_max_threads() && 2.0 * m * n * k * nbatch >= 1e6;
#pragma omp parallel for schedule(dynamic) if (per_thread)
  for (int64_t i = 0; i < nbatch; ++i) {
    const int64_t i0 = i / nb1, i1 = i % nb1;
    const float* pa = oa.data + i0 * oa.batch_stride[0] + i1 * oa.batch_stride[1];
    const float* pb = ob.data + i0 * ob.batch_stride[0] + i1 * ob.batch_stride[1];
    sgemm(oa.trans, ob.trans, m, n, k, 1.0f, pa, oa.ld, pb, ob.ld, 0.0f, o + i * m * n, n);
  }
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const Device device = common_device("matmul", {a, b});
  Tensor out = device == Device::CUDA ? matmul_cuda(a, b, matmul_shape(a, b))
                                      : matmul_forward_cpu(a, b);
  if (needs_grad({a, b}))
    record(kMatmul, out, {a, b},
           [ad = a.detach(), bd = b.detach(), ga = a.requires_grad(),
            gb = b.requires_grad()](const Tensor& dout) {
             Tensor da, db;
             // da = dout @ b^T: [..., M, N] @ [..., N, K], summed over a's broadcast axes.
             if (ga) da = sum_to(matmul(dout, bd.transpose(-1, -2)), ad.shape());
             if (gb) {
               const Shape& sb = bd.shape();
               const int64_t k = sb[sb.ndim() - 2], n = sb[sb.ndim() - 1];
               if (ad.numel() == 0 || dout.numel() == 0) {
                 db = zeros(sb, bd.device());  // an empty sum (and nothing to reshape with -1)
               } else if (Shape(std::vector<int64_t>(sb.begin(), sb.end() - 2)).numel() == 1) {
                 // b shared by the whole batch: db = sum_i a_i^T dout_i is one product over the
                 // stacked rows, (B*M) x K transposed times (B*M) x N.
                 Tensor a2 = ad.ndim() == 2 ? ad : ad.reshape({-1, k});
                 Tensor d2 = dout.ndim() == 2 ? dout : dout.reshape({-1, n});
                 db = matmul(a2.transpose(0, 1), d2).reshape(sb);
               } else {
                 // db = a^T @ dout: [..., K, M] @ [..., M, N], summed over b's broadcast axes.
                 db = sum_to(matmul(ad.transpose(-1, -2), dout), sb);
               }
             }
             return std::vector<Tensor>{da, db};
           });
  return out;
}

}  // namespace mindiff
