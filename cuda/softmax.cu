// softmax and log_softmax along one axis (see softmax.h): one block per row.
//
// A row is the K elements along the axis with every other index fixed; there are
// numel / K rows. The row index space is the tensor's shape with the axis set to 1, so
// offset_of(rows, r) is where row r starts, and its elements follow at the axis stride.
// A block handles a row in three sweeps, its threads taking every blockDim-th element:
//   m = max_j x_j                      block_all_reduce with the NaN-keeping maximum
//   s = sum_j exp(x_j - m)             in double, block_all_reduce
//   y_j = exp(x_j - m) * (1/s)   or   (x_j - m) - log(s)
// the same operations, in float and double, as the CPU kernel, so the results differ only by
// the order of the sum. Backward is two sweeps: the row's dot product, then dx.
#include "cuda/softmax.h"

#include <cmath>

#include "cuda/block_reduce.h"
#include "cuda/kernel.h"
#include "cuda/strided.h"

namespace mindiff {

namespace {

using cuda::offset_of;
using cuda::Strided4;

struct RowView {
  Strided4 rows;   // extents with the axis set to 1; the tensor's strides
  int64_t step;    // stride along the axis
};

RowView row_view(const Tensor& t, const Shape& shape, int axis) {
  RowView v{cuda::strided4(t, shape), t.strides()[axis]};
  v.rows.n[4 - shape.ndim() + axis] = 1;
  return v;
}

template <bool kLog>
__global__ void softmax_kernel(const float* x, RowView vx, float* y, RowView vy, int64_t rows,
                               int64_t len) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* px = x + offset_of(vx.rows, r);
    float* py = y + offset_of(vy.rows, r);
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) m = cuda::MaxOp()(m, px[j * vx.step]);
    m = cuda::block_all_reduce(m, cuda::MaxOp(), -INFINITY);
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) s += expf(px[j * vx.step] - m);
    s = cuda::block_all_reduce(s, cuda::SumOp<double>(), 0.0);
    if (kLog) {
      const float log_s = static_cast<float>(log(s));
      for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
        py[j * vy.step] = (px[j * vx.step] - m) - log_s;
    } else {
      const float inv = static_cast<float>(1.0 / s);
      for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
        py[j * vy.step] = expf(px[j * vx.step] - m) * inv;
    }
  }
}

//   softmax:     dx_j = y_j (dout_j - sum_k dout_k y_k)
//   log_softmax: dx_j = dout_j - exp(y_j) sum_k dout_k
template <bool kLog>
__global__ void softmax_backward_kernel(const float* y, RowView vy, const float* dout, RowView vd,
                                        float* dx, RowView vx, int64_t rows, int64_t len) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* py = y + offset_of(vy.rows, r);
    const float* pd = dout + offset_of(vd.rows, r);
    float* px = dx + offset_of(vx.rows, r);
    double dot = 0.0;
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x)
      dot += kLog ? pd[j * vd.step] : pd[j * vd.step] * py[j * vy.step];
    const float c = static_cast<float>(cuda::block_all_reduce(dot, cuda::SumOp<double>(), 0.0));
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) {
      if (kLog)
        px[j * vx.step] = pd[j * vd.step] - expf(py[j * vy.step]) * c;
      else
        px[j * vx.step] = py[j * vy.step] * (pd[j * vd.step] - c);
    }
  }
}

unsigned row_blocks(int64_t rows) { return static_cast<unsigned>(rows < 65535 ? rows : 65535); }

}  // namespace

Tensor softmax_cuda(const Tensor& x, int axis, bool log) {
  Tensor y = empty(x.shape(), Device::CUDA);
  const int64_t len = x.shape()[axis], rows = len == 0 ? 0 : x.numel() / len;
  if (rows == 0) return y;
  const RowView vx = row_view(x, x.shape(), axis), vy = row_view(y, y.shape(), axis);
  const int threads = cuda::reduce_threads(len);
  if (log)
    MD_LAUNCH(softmax_kernel<true>, row_blocks(rows), threads, 0, x.data(), vx, y.data(), vy, rows, len);
  else
    MD_LAUNCH(softmax_kernel<false>, row_blocks(rows), threads, 0, x.data(), vx, y.data(), vy, rows, len);
  return y;
}

Tensor softmax_backward_cuda(const Tensor& y, const Tensor& dout, int axis, bool log) {
  Tensor dx = empty(y.shape(), Device::CUDA);
  const int64_t len = y.shape()[axis], rows = len == 0 ? 0 : y.numel() / len;
  if (rows == 0) return dx;
  const RowView vy = row_view(y, y.shape(), axis), vd = row_view(dout, y.shape(), axis),
                vx = row_view(dx, y.shape(), axis);
  const int threads = cuda::reduce_threads(len);
  if (log)
    MD_LAUNCH(softmax_backward_kernel<true>, row_blocks(rows), threads, 0, y.data(), vy,
              dout.data(), vd, dx.data(), vx, rows, len);
  else
    MD_LAUNCH(softmax_backward_kernel<false>, row_blocks(rows), threads, 0, y.data(), vy,
              dout.data(), vd, dx.data(), vx, rows, len);
  return dx;
}

}  // namespace mindiff
