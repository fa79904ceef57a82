// Writing results: image grids as PNG (stb_image_write) and tensors as NumPy .npy files.
// Both are written atomically (path + ".tmp", fsync, rename; data/file_io.h), so a crash never
// leaves a half-written file, and errors name the path.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace mindiff {

// Lays out images [N, C, H, W] (C = 1 or 3, values in [-1, 1]; any device or strides) on a grid
// of min(ncols, N) columns and ceil(N / ncols) rows, with `pad` black pixels around and between
// the tiles, and writes it as one PNG. Pixel byte = round((clamp(x, -1, 1) + 1) * 127.5); NaN
// becomes 0. Grid size: width ncols (W + pad) + pad, height rows (H + pad) + pad.
void write_image_grid(const std::string& path, const Tensor& images, int64_t ncols = 8,
                      int64_t pad = 2);

// The grid as interleaved bytes (row-major, C per pixel) with its size, before PNG encoding.
struct ImageBytes {
  int64_t width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};
ImageBytes image_grid(const Tensor& images, int64_t ncols = 8, int64_t pad = 2);

// NumPy .npy format version 1.0 (numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// magic "\x93NUMPY", version 1 0, a little-endian uint16 header length, then the header
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n' so that the data starts at a multiple of 64 bytes, then
// the float32 little-endian elements in C (row-major) order.
void write_npy(const std::string& path, const Tensor& t);

// Reads a .npy file of little-endian float32 in C order (versions 1.0 to 3.0 of the format,
// rank <= 4). Errors name the path and the problem (bad magic, other dtype, Fortran order,
// length mismatch).
Tensor read_npy(const std::string& path);
// The same from the file's bytes in memory; `name` stands for the path in messages.
Tensor parse_npy(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace mindiff
