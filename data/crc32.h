// CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, initial value and final xor 0xFFFFFFFF),
// the checksum of zip, gzip and PNG. Check value: crc32("123456789") = 0xCBF43926.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mindiff {

// CRC of `n` bytes at `data`.
uint32_t crc32(const void* data, size_t n);

// Running form for data that arrives in pieces: start from kCrc32Init, feed every piece to
// crc32_update, finish with crc32_final. crc32(d, n) == crc32_final(crc32_update(kCrc32Init, d,
// n)).
constexpr uint32_t kCrc32Init = 0xFFFFFFFFu;
uint32_t crc32_update(uint32_t state, const void* data, size_t n);
// The plain one-byte-per-lookup form: the reference the fast crc32_update is tested against.
uint32_t crc32_update_bytewise(uint32_t state, const void* data, size_t n);
inline uint32_t crc32_final(uint32_t state) { return state ^ 0xFFFFFFFFu; }

}  // namespace mindiff
