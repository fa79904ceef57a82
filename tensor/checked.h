// Checked size arithmetic. Sizes that come from outside the program (a file's header, a config
// line, a flag) are multiplied through checked_mul, so that an overflow becomes an Error naming
// the value instead of a wrapped size that allocates too little and writes past it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mindiff {

// out = a * b; false (out unspecified) when the exact product does not fit in T.
template <class T>
bool checked_mul(T a, T b, T& out) {
  return !__builtin_mul_overflow(a, b, &out);
}

}  // namespace mindiff
