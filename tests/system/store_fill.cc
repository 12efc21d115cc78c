// store_fill DIR PROVIDER USERS [AGE_SECONDS]: writes USERS users of the slow
// provider's dataset (user00001.., uid 100001.., the very records
// SlowProvider answers with 1000 groups) into the store in DIR, as
// fastidd would have stored them AGE_SECONDS ago (default 0) with a 90 minute
// ttl — a store of 2*USERS entries for readiness tests and benchmarks, made
// in seconds instead of a hundred thousand lookups.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "providers/slow/slow_provider.h"
#include "store/store.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: store_fill DIR PROVIDER USERS [AGE_SECONDS]\n");
    return 2;
  }
  fastid::store::Options o;
  o.dir = argv[1];
  auto store = fastid::store::Store::open(o);
  if (!store) {
    std::fprintf(stderr, "store_fill: %s\n", store.error().to_string().c_str());
    return 1;
  }
  const std::string provider = argv[2];
  const long users = std::strtol(argv[3], nullptr, 10);
  const long age = argc > 4 ? std::strtol(argv[4], nullptr, 10) : 0;
  const auto fetched = fastid::store::now_millis() - age * 1000;
  fastid::providers::SlowProvider dataset({.name = provider, .users = static_cast<std::uint32_t>(users)});
  if (!dataset.open()) return 1;
  for (long i = 1; i <= users; ++i) {
    auto u = dataset.user_by_uid(static_cast<std::uint32_t>(100000 + i));
    if (!u) return 1;
    auto st = (*store)->put_user(provider, *u, fetched, fetched + 90 * 60 * 1000);
    if (!st) {
      std::fprintf(stderr, "store_fill: %s\n", st.to_string().c_str());
      return 1;
    }
  }
  std::printf("%llu entries\n", static_cast<unsigned long long>((*store)->stats().entries));
  return 0;
}
