// Unit tests of src/server pieces that need no loop: the connection's
// ReadBuffer, whose every removed byte must be wiped (passwords on the pam
// socket). The bytes past size() are inspected through data(): they are the
// buffer's own allocation, the memory a later allocation would reuse.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "server/read_buffer.h"

namespace fastid::server {
namespace {

void fill(ReadBuffer& b, const std::string& text) {
  b.append(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

std::string contents(const ReadBuffer& b) { return std::string(reinterpret_cast<const char*>(b.data()), b.size()); }

// True when every byte from size() to capacity() is zero.
bool spare_is_zero(const ReadBuffer& b) {
  for (std::size_t i = b.size(); i < b.capacity(); ++i) {
    if (b.data()[i] != 0) return false;
  }
  return true;
}

TEST(ReadBufferTest, EraseAtTheFrontMovesTheNextFrameDownAndWipesTheVacatedTail) {
  ReadBuffer b;
  fill(b, "FRAME-ONE-secret1|FRAME-TWO-secret2");
  b.erase(0, 18);
  EXPECT_EQ(contents(b), "FRAME-TWO-secret2");
  EXPECT_TRUE(spare_is_zero(b)) << "the second frame's old copy is gone";
}

TEST(ReadBufferTest, EraseInTheMiddleKeepsTheHeaderAndWipes) {
  ReadBuffer b;
  fill(b, "HEADERpassword-bytes");
  b.erase(6, 100);  // clamped to the size
  EXPECT_EQ(contents(b), "HEADER");
  EXPECT_TRUE(spare_is_zero(b));
  b.erase(10, 1);  // past the end: nothing
  EXPECT_EQ(contents(b), "HEADER");
}

TEST(ReadBufferTest, ShrinkingWipesWhatIsCutOffAndGrowingStartsFromZero) {
  ReadBuffer b;
  fill(b, "0123456789");
  b.resize(4);
  EXPECT_EQ(contents(b), "0123");
  EXPECT_TRUE(spare_is_zero(b));
  b.resize(8);
  EXPECT_EQ(contents(b), std::string("0123\0\0\0\0", 8));
}

TEST(ReadBufferTest, GrowingPastTheCapacityKeepsTheBytes) {
  ReadBuffer b;
  std::string text;
  for (int i = 0; i < 500; ++i) text += std::to_string(i) + ",";
  for (char c : text) b.append(reinterpret_cast<const std::uint8_t*>(&c), 1);
  EXPECT_EQ(contents(b), text);
  EXPECT_GE(b.capacity(), text.size());
  EXPECT_TRUE(spare_is_zero(b));
  b.release();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_EQ(b.data(), nullptr);
}

}  // namespace
}  // namespace fastid::server
