// ReadBuffer: the bytes a connection has received and not used yet. Frames on
// the pam socket carry passwords, so no byte that was ever stored here outlives
// its use: growing copies and then wipes the old storage, erasing wipes the
// bytes removed and the tail left vacant by the move, shrinking wipes what is
// cut off, and release (also the destructor) wipes the whole allocation before
// freeing it. Every path of a connection — a frame answered, an oversized
// frame dropped, pipelined frames moved down, a peer gone mid-frame, a broken
// stream closed — goes through these, so none can leave a copy behind.
// Not thread-safe (one connection, one loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace fastid::server {

class ReadBuffer {
 public:
  ReadBuffer() = default;
  ~ReadBuffer() { release(); }
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  std::uint8_t* data() { return data_.get(); }
  const std::uint8_t* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t capacity() const { return capacity_; }

  // Sets the size. New bytes are zero until written; bytes cut off are wiped.
  void resize(std::size_t size);
  // Appends `n` bytes.
  void append(const std::uint8_t* bytes, std::size_t n);
  // Removes [pos, pos + n) (clamped to the size), moving what follows down.
  void erase(std::size_t pos, std::size_t n);
  // Wipes and frees the storage; the buffer is empty afterwards.
  void release();

 private:
  void reserve(std::size_t capacity);

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace fastid::server
