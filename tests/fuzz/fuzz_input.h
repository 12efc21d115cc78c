// Cutting one fuzz input into the pieces a target needs (a choice, a number,
// texts), shared by the targets of tests/fuzz. Every take is bounded by what
// is left; past the end a take gives zeros and empty texts. Header-only, no
// libFuzzer header: the targets also build with g++ into fuzz_replay_test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace fastid::fuzz {

class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size) : p_(data), n_(size) {}

  std::uint8_t byte() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::uint32_t u32() {
    std::uint32_t v = 0;
    const std::size_t k = n_ < 4 ? n_ : 4;
    if (k > 0) std::memcpy(&v, p_, k);
    p_ += k;
    n_ -= k;
    return v;
  }
  // Up to the next `sep` byte (dropped), or the rest.
  std::string_view text_until(char sep) {
    const void* at = n_ == 0 ? nullptr : std::memchr(p_, sep, n_);
    const std::size_t len = at ? static_cast<std::size_t>(static_cast<const std::uint8_t*>(at) - p_) : n_;
    std::string_view out(reinterpret_cast<const char*>(p_), len);
    const std::size_t used = at ? len + 1 : len;
    p_ += used;
    n_ -= used;
    return out;
  }
  std::string_view all() {
    std::string_view out(reinterpret_cast<const char*>(p_), n_);
    p_ += n_;
    n_ = 0;
    return out;
  }
  const std::uint8_t* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

// Lines of a text, without their '\n'.
inline std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    out.push_back(text.substr(0, eol));
    if (eol == std::string_view::npos) break;
    text.remove_prefix(eol + 1);
  }
  return out;
}

}  // namespace fastid::fuzz
