// Image resizing for the data layer (no library: a few lines of separable resampling).
//
// Each axis is resampled on its own (first along W, then along H), with per-output weight lists:
// - shrinking (out < in): area averaging. Output pixel o covers the input interval
//   [o s, (o + 1) s) with s = in / out; its value is the mean of the input pixels weighted by
//   how much of each pixel that interval overlaps. This anti-aliases, unlike point sampling.
// - enlarging or same size: bilinear interpolation with half-pixel centres, i.e. the output
//   centre o + 1/2 maps to input coordinate (o + 1/2) s - 1/2, clamped to the edge pixels.
#pragma once
#include <cstdint>
#include <vector>

namespace mindiff {

// `in` holds C planes of H x W floats (CHW). Returns C planes of OH x OW.
std::vector<float> resize_chw(const float* in, int64_t C, int64_t H, int64_t W, int64_t OH,
                              int64_t OW);

// Resizes so the shorter side becomes `size` (the longer keeps the aspect ratio, rounded), then
// crops the central size x size square. Returns C planes of size x size. Only the square is
// computed, so time and memory do not grow with the long side of a long thin image.
std::vector<float> resize_short_side_center_crop(const float* in, int64_t C, int64_t H, int64_t W,
                                                 int64_t size);

}  // namespace mindiff
