// A folder of images as an unlabeled Dataset.
//
// Every *.png and *.bmp file directly in the folder (not in subfolders; the extension is matched
// case-insensitively; other files are ignored, but *.jpg and *.jpeg are named in a warning: JPEG
// is refused, see data/image_decode.h), taken in sorted name order so the dataset is the same on
// every machine, decoded with stb_image to 1 (grayscale) or 3 (RGB) channels behind the checks of
// data/image_decode.h, resized so the short side equals `size` (data/resize.h: area averaging when
// shrinking, bilinear when enlarging), centre-cropped to size x size, and scaled to [-1, 1].
// A file that fails to decode or a check is skipped with a warning on stderr naming it and why.
#pragma once
#include <string>

#include "data/dataset.h"

namespace mindiff {

// Images [N, channels, size, size]; labels empty, num_classes 0. Errors name the folder when it
// is missing or when no image in it could be decoded; channels must be 1 or 3.
Dataset load_image_folder(const std::string& dir, int64_t size, int channels = 3);

}  // namespace mindiff
