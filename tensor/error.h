// Errors: every failure in mindiff is a mindiff::Error whose message names what is wrong.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace mindiff {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
// Builds a message from any streamable pieces: md_message("conv2d: x ", shape, " vs w ", shape).
template <class... Args>
std::string md_message(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace mindiff

// MD_CHECK(cond, pieces...): throw mindiff::Error with the pieces joined when cond is false.
// Used for user-facing checks (shapes, devices, arguments), never in inner loops.
#define MD_CHECK(cond, ...)                                                   \
  do {                                                                        \
    if (!(cond)) throw ::mindiff::Error(::mindiff::detail::md_message(__VA_ARGS__)); \
  } while (0)
