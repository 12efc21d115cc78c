// Writes valid fast cache maps for the fuzz corpus: each map kind, small
// files, a tiny index (collisions), a wrapped ring (pad records, tail > 0),
// negative records and big groups; and the hostile headers of
// hostile_maps.h. Usage: fastcache_seed_gen WORKDIR CORPUSDIR
#include <stdio.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "fastcache/writer.h"
#include "hostile_maps.h"

namespace fc = fastid::fastcache;
using namespace std::chrono_literals;

static fastid::model::User user(int i) {
  char n[16];
  snprintf(n, sizeof n, "user%05d", i);
  fastid::model::User u;
  u.name = n;
  u.uid = 100000 + i;
  u.gid = 200000 + i % 7;
  u.gecos = "User " + std::to_string(i);
  u.dir = std::string("/home/") + n;
  u.shell = "/bin/sh";
  return u;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  std::string work = argv[1], corpus = argv[2];
  std::filesystem::create_directories(corpus);
  int seq = 0;
  auto emit = [&](fc::MapKind k) {
    std::filesystem::copy_file(work + "/" + fc::map_file_name(k),
                               corpus + "/seed-" + std::to_string(seq++) + "-" + fc::map_file_name(k),
                               std::filesystem::copy_options::overwrite_existing);
  };
  for (int variant = 0; variant < 4; ++variant) {
    std::filesystem::remove_all(work);
    fc::FastCacheOptions o;
    o.size_bytes = 12 << 10;
    o.max_record = 2048;
    o.max_ttl = std::chrono::hours(24 * 30);
    if (variant == 1) o.index_entries = 8;
    if (variant == 1) o.probe_limit = 8;
    int users = variant == 2 ? 200 : 6;  // variant 2 wraps the ring
    auto pw = fc::FastCacheWriter::open(work, fc::MapKind::kPasswd, o);
    auto gr = fc::FastCacheWriter::open(work, fc::MapKind::kGroup, o);
    auto ig = fc::FastCacheWriter::open(work, fc::MapKind::kInitgroups, o);
    if (!pw || !gr || !ig) return 1;
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::hours(24 * 29));
    for (int i = 1; i <= users; ++i) {
      (void)(*pw)->put_user(user(i), ttl);
      uint32_t gids[3] = {200001u, 200000u + i, 200005u};
      (void)(*ig)->put_initgroups(user(i).name, gids, ttl);
    }
    (void)(*pw)->put_negative_user_name("ghost", ttl);
    (void)(*pw)->put_negative_uid(4242, ttl);
    (void)(*gr)->put_negative_gid(777, ttl);
    for (int g = 1; g <= (variant == 3 ? 20 : 6); ++g) {
      fastid::model::Group grp;
      char n[16];
      snprintf(n, sizeof n, "group%04d", g);
      grp.name = n;
      grp.gid = 200000 + g;
      for (int m = 0; m < (variant == 3 ? 60 : g); ++m) grp.members.push_back(user(m + 1).name);
      (void)(*gr)->put_group(grp, ttl);
    }
    emit(fc::MapKind::kPasswd);
    emit(fc::MapKind::kGroup);
    emit(fc::MapKind::kInitgroups);
  }
  std::filesystem::remove_all(work);
  // Hostile headers (security issue #11): every other field valid.
  for (auto h : {fc::hostile::Header::kIndexOffsetWraps, fc::hostile::Header::kIndexPastTheFile,
                 fc::hostile::Header::kDataOffsetWraps}) {
    for (auto k : {fc::MapKind::kPasswd, fc::MapKind::kGroup, fc::MapKind::kInitgroups}) {
      auto bytes = fc::hostile::map_file(h, k, fc::realtime_coarse_ns());
      std::string path = corpus + "/hostile-" + std::to_string(static_cast<int>(h)) + "-" + fc::map_file_name(k);
      FILE* f = fopen(path.c_str(), "wb");
      if (f == nullptr || fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || fclose(f) != 0) return 1;
      ++seq;
    }
  }
  printf("%d seed files in %s\n", seq, corpus.c_str());
  return 0;
}
