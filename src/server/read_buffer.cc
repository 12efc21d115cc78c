// ReadBuffer (read_buffer.h): every byte removed from it is wiped first.
#include "server/read_buffer.h"

#include <string.h>

#include <algorithm>
#include <cstring>

namespace fastid::server {

void ReadBuffer::reserve(std::size_t capacity) {
  if (capacity <= capacity_) return;
  auto bigger = std::make_unique<std::uint8_t[]>(capacity);  // zeroed
  if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
  release();
  data_ = std::move(bigger);
  capacity_ = capacity;
}

void ReadBuffer::resize(std::size_t size) {
  if (size > capacity_) {
    const std::size_t keep = size_;
    reserve(std::max(size, 2 * capacity_));
    size_ = keep;
  }
  if (size < size_) {
    ::explicit_bzero(data_.get() + size, size_ - size);
  } else if (size > size_) {
    std::memset(data_.get() + size_, 0, size - size_);
  }
  size_ = size;
}

void ReadBuffer::append(const std::uint8_t* bytes, std::size_t n) {
  if (n == 0) return;
  const std::size_t at = size_;
  resize(size_ + n);
  std::memcpy(data_.get() + at, bytes, n);
}

void ReadBuffer::erase(std::size_t pos, std::size_t n) {
  if (pos >= size_) return;
  n = std::min(n, size_ - pos);
  if (n == 0) return;
  std::uint8_t* p = data_.get();
  ::explicit_bzero(p + pos, n);
  const std::size_t tail = size_ - pos - n;
  if (tail > 0) std::memmove(p + pos, p + pos + n, tail);
  // The last n bytes held the tail before the move (or the erased bytes).
  ::explicit_bzero(p + size_ - n, n);
  size_ -= n;
}

void ReadBuffer::release() {
  if (data_) ::explicit_bzero(data_.get(), capacity_);
  data_.reset();
  size_ = 0;
  capacity_ = 0;
}

}  // namespace fastid::server
