// gzip (RFC 1952) reading on top of stb_image's raw DEFLATE decoder, with the CRC-32 and length
// trailer checked, so a truncated or corrupted download is reported instead of parsed as data.
//
// A gzip member is: 10-byte header (1f 8b, CM = 8 for DEFLATE, FLG, MTIME, XFL, OS), optional
// fields chosen by FLG (FEXTRA: 2-byte length + bytes, FNAME and FCOMMENT: zero-terminated,
// FHCRC: 2-byte header CRC), the raw DEFLATE stream, then CRC-32 and ISIZE (input size mod 2^32),
// both little-endian. Only single-member files are supported (what gzip(1) writes).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mindiff {

// True if `bytes` starts with the gzip magic 1f 8b.
bool is_gzip(const std::vector<uint8_t>& bytes);

// Decompresses a whole gzip file held in memory. `name` (usually the path) is used in errors:
// bad header, corrupt or truncated DEFLATE data, length or CRC mismatch.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& gz, const std::string& name);

// Reads the file at `path`; if it starts with the gzip magic it is decompressed, otherwise the
// bytes are returned as they are. Errors name the path (missing, unreadable, corrupt gzip).
std::vector<uint8_t> read_maybe_gzipped(const std::string& path);

// Wraps `data` in a valid gzip file using stored (uncompressed) DEFLATE blocks. Meant for tests
// and small outputs: no compression, but any gzip reader accepts it.
std::vector<uint8_t> gzip_store(const std::vector<uint8_t>& data);

}  // namespace mindiff
