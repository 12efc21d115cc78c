// Replays every input of tests/fuzz/corpus/TARGET (the seeds) and
// tests/fuzz/regression/TARGET (each an input that once crashed a parser,
// kept when its bug was fixed) through the libFuzzer target's own entry point
// (tests/fuzz/TARGET_fuzz.cc, compiled here with g++ and its entry points
// renamed: see tests/CMakeLists.txt), in the normal and the sanitized builds.
// A target aborts on a broken promise and ASan/UBSan stop on a bad access, so
// an input whose bug comes back fails this test; one case per target, each
// counting the inputs it replayed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// libFuzzer's mutator, which the fast cache target's custom mutator calls;
// never reached here (nothing mutates), defined so that the target links.
extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t*, std::size_t size, std::size_t) { return size; }

#define FASTID_FUZZ_TARGET(name)                                            \
  extern "C" int fuzz_##name##_init(int*, char***);                        \
  extern "C" int fuzz_##name##_one(const std::uint8_t*, std::size_t);      \
  TEST(FuzzReplay, name) {                                                  \
    EXPECT_EQ(fuzz_##name##_init(nullptr, nullptr), 0);                     \
    EXPECT_GT(replay(#name, fuzz_##name##_one), 0u) << "no input for " #name; \
  }

namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Every file of both folders, in name order; returns how many.
std::size_t replay(const std::string& target, int (*one)(const std::uint8_t*, std::size_t)) {
  std::vector<fs::path> inputs;
  for (const char* kind : {"corpus", "regression"}) {
    const fs::path dir = fs::path(FASTID_SOURCE_DIR) / "tests/fuzz" / kind / target;
    if (!fs::is_directory(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.is_regular_file()) inputs.push_back(e.path());
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& p : inputs) {
    SCOPED_TRACE(p.string());
    const auto bytes = read_bytes(p);
    // Through a copy of exactly its size, as libFuzzer hands it: ASan sees a read past the end.
    std::vector<std::uint8_t> copy(bytes);
    EXPECT_EQ(one(copy.empty() ? nullptr : copy.data(), copy.size()), 0);
  }
  return inputs.size();
}

}  // namespace

FASTID_FUZZ_TARGET(request_decoder)
FASTID_FUZZ_TARGET(client_reply)
FASTID_FUZZ_TARGET(worker_request)
FASTID_FUZZ_TARGET(worker_reply)
FASTID_FUZZ_TARGET(config)
FASTID_FUZZ_TARGET(files)
FASTID_FUZZ_TARGET(lines)
FASTID_FUZZ_TARGET(ldap_entry)
FASTID_FUZZ_TARGET(offline_credentials)
FASTID_FUZZ_TARGET(fastcache_reader)
FASTID_FUZZ_TARGET(nscd_request)
FASTID_FUZZ_TARGET(varlink_call)
