// CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 binary").
//
// Files: data_batch_1.bin .. data_batch_5.bin (train, 10000 records each) and test_batch.bin
// (test). Each record is 3073 bytes: 1 label byte (0..9), then a 32x32 image as 1024 red, 1024
// green and 1024 blue bytes, each plane row-major. That is already CHW order, so record r maps
// to images[r] of shape [3, 32, 32] with no transposition.
#pragma once
#include <string>
#include <vector>

#include "data/dataset.h"

namespace mindiff {

constexpr int64_t kCifarSide = 32;
constexpr int64_t kCifarRecord = 1 + 3 * kCifarSide * kCifarSide;  // 3073 bytes

// Number of records in one file held in memory; `name` (the path) appears in the error for a
// length that is not a positive multiple of 3073.
int64_t cifar10_record_count(const std::vector<uint8_t>& bytes, const std::string& name);

// Parses the records of one file, appending their labels to `labels` and writing their pixels in
// [-1, 1] to `pixels` (room for 3072 floats per record). Errors name `name` (bad length, label > 9).
void parse_cifar10_records(const std::vector<uint8_t>& bytes, const std::string& name,
                           std::vector<int64_t>& labels, float* pixels);

// Split "train" (data_batch_1..5.bin, 50000 examples) or "test" (test_batch.bin, 10000) from
// `dir`; if the files are not there but `dir`/cifar-10-batches-bin/ holds them (the folder the
// official archive unpacks to), that is used. Images [N, 3, 32, 32] in [-1, 1], 10 named classes.
// Files may also be gzipped. Errors name the missing or malformed file.
Dataset load_cifar10(const std::string& dir, const std::string& split = "train");

// The ten CIFAR-10 class names, index = label.
const std::vector<std::string>& cifar10_class_names();

}  // namespace mindiff
