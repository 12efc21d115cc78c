// Secret: a password on its way through the daemon. It owns one heap buffer of
// exactly its size (never reallocated, so no stale copy is left behind by a
// growing string) and zeroes it with explicit_bzero when destroyed or
// overwritten. It has no operator<< and no to_string: a secret cannot end up
// in a log line by accident. Copies are deep and each zeroes its own buffer.
#pragma once

#include <string.h>

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

namespace fastid::core {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string_view text) { assign(text); }
  Secret(const Secret& other) { assign(other.view()); }
  Secret(Secret&& other) noexcept
      : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
  Secret& operator=(const Secret& other) {
    if (this != &other) assign(other.view());
    return *this;
  }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      wipe();
      data_ = std::move(other.data_);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~Secret() { wipe(); }

  void assign(std::string_view text) {
    wipe();
    if (text.empty()) return;
    data_ = std::make_unique<char[]>(text.size());
    ::memcpy(data_.get(), text.data(), text.size());
    size_ = text.size();
  }

  // Only for handing the bytes to the call that checks them.
  std::string_view view() const noexcept { return {data_.get(), size_}; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

 private:
  void wipe() noexcept {
    if (data_) ::explicit_bzero(data_.get(), size_);
    data_.reset();
    size_ = 0;
  }

  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

}  // namespace fastid::core
