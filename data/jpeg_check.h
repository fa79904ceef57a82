// A structural check of JPEG files before stb_image decodes them.
//
// Debian's stb_image (2.27) trusts two things in a JPEG that a damaged or crafted file gets wrong:
//   - a Huffman table (DHT segment) whose 16 code counts add up to more than 256 makes
//     stbi__build_huffman write past its 257-entry size list, and the table's values past their
//     256 entries: memory corruption from a 9-byte file (ff d8 ff c4 01 db 00 ff ff). A known
//     upstream bug that the Debian version still has.
//   - a file cut short: stb decodes the missing entropy-coded data as zeros, so a truncated
//     download becomes a grey-bottomed image without a word.
// check_jpeg walks the file's segments the way stb finds them (markers are 0xFF followed by a
// code; stb skips other bytes between segments, 0xFF fill bytes before a code, and, in the
// entropy-coded data after each start of scan, 0xFF 0x00 stuffing and restart markers) and
// refuses the file unless every DHT segment holds well-formed tables of at most 256 codes each
// and an end-of-image marker is reached.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace mindiff {

// True if the bytes start like a JPEG (the start-of-image marker ff d8 followed by 0xFF).
bool looks_like_jpeg(const uint8_t* bytes, size_t size);

// Throws mindiff::Error naming `name` and the problem (truncated, a bad Huffman table, a
// segment running past the end) unless the file passes the checks above.
void check_jpeg(const uint8_t* bytes, size_t size, const std::string& name);

}  // namespace mindiff
