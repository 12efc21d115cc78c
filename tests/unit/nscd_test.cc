// The nscd front's pieces without a daemon: glibc's nscd request decoding
// (every refusal), the reply records, and the shared map's layout read back
// the way glibc's client reads it (struct mirrors with glibc's field order,
// its hash, its bounds checks).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <thread>

#include "fastcache/nscd_map.h"
#include "proto/nscd.h"
#include "proto/nscd_statistics.h"

namespace {

using namespace fastid;
namespace nscd = proto::nscd;
namespace L = fastcache::nscd_layout;

// glibc's structs as nscd-client.h declares them (field order and types),
// to hold the layout constants to them.
struct GlibcHead {
  std::int32_t version, header_size, gc_cycle, nscd_certainly_running;
  std::uint64_t timestamp;
  std::uint32_t extra_data[4];
  std::int32_t module, data_size, first_free, nentries, maxnentries, maxnsearched;
  std::uint64_t poshit, neghit, posmiss, negmiss, rdlockdelayed, wrlockdelayed, addfailed;
};
struct GlibcHashEntry {
  int type : 8;
  bool first;
  std::int32_t len;
  std::uint32_t key;
  std::int32_t owner;
  std::uint32_t next;
  std::uint32_t packet;
  union {
    void* dellist;
    std::uint32_t* prevp;
  };
};
struct GlibcDataHead {
  std::int32_t allocsize, recsize;
  std::uint64_t timeout;
  std::uint8_t notfound, nreloads, usable, unused;
  std::uint32_t ttl;
};

TEST(NscdLayout, MatchesGlibcStructs) {
  EXPECT_EQ(sizeof(GlibcHead), L::kHeadSize);
  EXPECT_EQ(offsetof(GlibcHead, gc_cycle), L::kHeadGcCycle);
  EXPECT_EQ(offsetof(GlibcHead, nscd_certainly_running), L::kHeadRunning);
  EXPECT_EQ(offsetof(GlibcHead, timestamp), L::kHeadTimestamp);
  EXPECT_EQ(offsetof(GlibcHead, module), L::kHeadModule);
  EXPECT_EQ(offsetof(GlibcHead, data_size), L::kHeadDataSize);
  EXPECT_EQ(offsetof(GlibcHead, first_free), L::kHeadFirstFree);
  EXPECT_EQ(sizeof(GlibcHashEntry), L::kHashEntrySize);
  EXPECT_EQ(offsetof(GlibcHashEntry, len), L::kHeLen);
  EXPECT_EQ(offsetof(GlibcHashEntry, key), L::kHeKey);
  EXPECT_EQ(offsetof(GlibcHashEntry, next), L::kHeNext);
  EXPECT_EQ(offsetof(GlibcHashEntry, packet), L::kHePacket);
  EXPECT_EQ(sizeof(GlibcDataHead), L::kDataHeadSize);
  EXPECT_EQ(offsetof(GlibcDataHead, usable), L::kDhUsable);
  EXPECT_EQ(offsetof(GlibcDataHead, recsize), L::kDhRecSize);
  // The sdbm hash glibc uses (h = c + 65599 h): "ab" = 'b' + 65599 * 'a'.
  const std::uint8_t ab[] = {'a', 'b'};
  EXPECT_EQ(L::key_hash(ab), std::uint32_t{'b'} + 65599u * 'a');
}

std::vector<std::uint8_t> header(std::int32_t version, std::int32_t type, std::int32_t len) {
  std::vector<std::uint8_t> b(12);
  std::memcpy(b.data(), &version, 4);
  std::memcpy(b.data() + 4, &type, 4);
  std::memcpy(b.data() + 8, &len, 4);
  return b;
}

TEST(NscdProto, HeaderRefusals) {
  nscd::RequestHeader h;
  EXPECT_EQ(nscd::decode_header(header(2, 0, 6).data(), &h), nscd::HeaderCheck::kOk);
  EXPECT_EQ(nscd::decode_header(header(1, 0, 6).data(), &h), nscd::HeaderCheck::kBadVersion);
  EXPECT_EQ(nscd::decode_header(header(-2, 0, 6).data(), &h), nscd::HeaderCheck::kBadVersion);
  EXPECT_EQ(nscd::decode_header(header(2, -1, 6).data(), &h), nscd::HeaderCheck::kBadType);
  EXPECT_EQ(nscd::decode_header(header(2, 22, 6).data(), &h), nscd::HeaderCheck::kBadType);
  EXPECT_EQ(nscd::decode_header(header(2, 0x7fffffff, 6).data(), &h), nscd::HeaderCheck::kBadType);
  EXPECT_EQ(nscd::decode_header(header(2, 0, 0).data(), &h), nscd::HeaderCheck::kBadKeyLength);
  EXPECT_EQ(nscd::decode_header(header(2, 0, -1).data(), &h), nscd::HeaderCheck::kBadKeyLength);
  EXPECT_EQ(nscd::decode_header(header(2, 0, 1025).data(), &h), nscd::HeaderCheck::kBadKeyLength);
  EXPECT_EQ(nscd::decode_header(header(2, 0, 0x7fffffff).data(), &h), nscd::HeaderCheck::kBadKeyLength);
  EXPECT_EQ(nscd::decode_header(header(2, 0, 1024).data(), &h), nscd::HeaderCheck::kOk);
  // GETSTAT and SHUTDOWN carry no key (`nscd -g`, `nscd -K`); nothing else may.
  EXPECT_EQ(nscd::decode_header(header(2, 9, 0).data(), &h), nscd::HeaderCheck::kOk);
  EXPECT_EQ(nscd::decode_header(header(2, 8, 0).data(), &h), nscd::HeaderCheck::kOk);
  EXPECT_EQ(nscd::decode_header(header(2, 9, -1).data(), &h), nscd::HeaderCheck::kBadKeyLength);
  EXPECT_EQ(nscd::decode_header(header(2, 10, 0).data(), &h), nscd::HeaderCheck::kBadKeyLength);
  EXPECT_EQ(nscd::decode_header(header(2, 11, 0).data(), &h), nscd::HeaderCheck::kBadKeyLength);
}

std::optional<nscd::Request> request(nscd::RequestType type, std::string_view key_bytes) {
  nscd::RequestHeader h{2, static_cast<std::int32_t>(type), static_cast<std::int32_t>(key_bytes.size())};
  return nscd::decode_request(h, {reinterpret_cast<const std::uint8_t*>(key_bytes.data()), key_bytes.size()});
}

TEST(NscdProto, Requests) {
  using T = nscd::RequestType;
  auto r = request(T::kGetpwbyname, std::string_view("alice\0", 6));
  ASSERT_TRUE(r && r->query);
  EXPECT_EQ(*r->query, model::Query::user_by_name("alice"));
  r = request(T::kGetpwbyuid, std::string_view("1000\0", 5));
  ASSERT_TRUE(r && r->query);
  EXPECT_EQ(*r->query, model::Query::user_by_uid(1000));
  r = request(T::kGetgrbygid, std::string_view("4294967295\0", 11));
  ASSERT_TRUE(r && r->query);
  EXPECT_EQ(r->query->id, 4294967295u);
  r = request(T::kInitgroups, std::string_view("bob\0", 4));
  ASSERT_TRUE(r && r->query);
  EXPECT_EQ(*r->query, model::Query::initgroups("bob"));
  r = request(T::kGetfdpw, std::string_view("passwd\0", 7));
  ASSERT_TRUE(r && r->map);
  EXPECT_EQ(*r->map, nscd::Database::kPasswd);
  r = request(T::kGetfdgr, std::string_view("group\0", 6));
  ASSERT_TRUE(r && r->map);
  r = request(T::kInvalidate, std::string_view("group\0", 6));
  ASSERT_TRUE(r && r->invalidate);
  EXPECT_EQ(*r->invalidate, nscd::Database::kGroup);
  r = request(T::kInvalidate, std::string_view("hosts\0", 6));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->invalidate);
  // Served by nobody here: decoded, neither query nor map (the front closes).
  r = request(T::kGethostbyname, std::string_view("example.org\0", 12));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->query || r->map);
  // Statistics and shutdown, with no key or any C string.
  r = request(T::kGetstat, "");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->statistics);
  EXPECT_FALSE(r->shutdown || r->query || r->map || r->invalidate);
  r = request(T::kShutdown, std::string_view("\0", 1));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->shutdown);
  EXPECT_FALSE(r->statistics);
  EXPECT_FALSE(request(T::kGetstat, "x"));  // a key that is no C string
  // Refused outright.
  EXPECT_FALSE(request(T::kGetpwbyname, ""));                                   // no key
  EXPECT_FALSE(request(T::kGetpwbyname, "alice"));                              // no NUL
  EXPECT_FALSE(request(T::kGetpwbyname, std::string_view("al\0ce\0", 6)));      // NUL inside
  EXPECT_FALSE(request(T::kGetpwbyname, std::string_view("\0", 1)));            // empty name
  EXPECT_FALSE(request(T::kGetpwbyuid, std::string_view("12a\0", 4)));
  EXPECT_FALSE(request(T::kGetpwbyuid, std::string_view("-1\0", 3)));
  EXPECT_FALSE(request(T::kGetpwbyuid, std::string_view("4294967296\0", 11)));
  EXPECT_FALSE(request(T::kGetpwbyuid, std::string_view("00000000001\0", 12)));
  EXPECT_FALSE(request(T::kGetfdpw, std::string_view("group\0", 6)));
  // A key shorter than the header said.
  nscd::RequestHeader h{2, 0, 10};
  const std::uint8_t k[] = {'a', 0};
  EXPECT_FALSE(nscd::decode_request(h, k));
}

// `nscd -g` reads exactly sizeof (struct statdata) and refuses another
// version: glibc 2.36's layout with SELinux (Debian's nscd), field by field.
TEST(NscdProto, StatisticsAreGlibcsStatdata) {
  nscd::Statistics s;
  s.runtime_s = 3723;
  s.reloads = 2;
  s.passwd.enabled = true;
  s.passwd.shared = true;
  s.passwd.buckets = 16381;
  s.passwd.positive_ttl_s = 300;
  s.passwd.negative_ttl_s = 15;
  s.passwd.entries = 8;
  s.passwd.data_size = 8u << 20;
  s.passwd.data_used = 960;
  s.passwd.positive_answers = 7;
  s.passwd.negative_answers = 1;
  s.passwd.failed = 3;
  s.group.enabled = true;
  const std::vector<std::uint8_t> b = nscd::encode_statistics(s);
  ASSERT_EQ(b.size(), 768u);
  auto u32 = [&b](std::size_t at) {
    std::uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  auto u64 = [&b](std::size_t at) {
    std::uint64_t v;
    std::memcpy(&v, b.data() + at, 8);
    return v;
  };
  EXPECT_EQ(u32(0), 0x01020001u);  // STATDATA_VERSION | SELinux
  EXPECT_EQ(u64(8), 3723u);        // runtime
  EXPECT_EQ(u32(24), 1u);          // nthreads
  EXPECT_EQ(u32(48), 2u);          // reload_count
  EXPECT_EQ(u32(52), 5u);          // ndbs
  const std::size_t pw = 56, gr = 56 + 136, hosts = 56 + 2 * 136;
  EXPECT_EQ(u32(pw + 0), 1u);       // enabled
  EXPECT_EQ(u32(pw + 4), 0u);       // check_file
  EXPECT_EQ(u32(pw + 8), 1u);       // shared
  EXPECT_EQ(u64(pw + 16), 16381u);  // module
  EXPECT_EQ(u64(pw + 24), 300u);    // postimeout
  EXPECT_EQ(u64(pw + 32), 15u);     // negtimeout
  EXPECT_EQ(u64(pw + 40), 8u);      // nentries
  EXPECT_EQ(u64(pw + 64), 8u << 20);  // datasize
  EXPECT_EQ(u64(pw + 72), 960u);    // dataused
  EXPECT_EQ(u64(pw + 80), 7u);      // poshit
  EXPECT_EQ(u64(pw + 88), 1u);      // neghit
  EXPECT_EQ(u64(pw + 128), 3u);     // addfailed
  EXPECT_EQ(u32(gr + 0), 1u);
  EXPECT_EQ(u32(gr + 8), 0u);
  EXPECT_EQ(u32(hosts + 0), 0u);    // hosts: not served
}

TEST(NscdProto, Records) {
  model::User u{"alice", "x", 1000, 100, "Alice", "/home/alice", "/bin/sh"};
  auto rec = nscd::encode_found(model::Query::user_by_name("alice"), u);
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->size(), nscd::kPwHeaderSize + 6 + 2 + 6 + 12 + 8);
  std::int32_t f[9];
  std::memcpy(f, rec->data(), sizeof f);
  EXPECT_EQ(f[0], 2);
  EXPECT_EQ(f[1], 1);
  EXPECT_EQ(f[2], 6);
  EXPECT_EQ(f[4], 1000);
  EXPECT_EQ(f[5], 100);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rec->data()) + 36), "alice");
  model::Group g{"staff", "x", 50, {"alice", "bob"}};
  rec = nscd::encode_found(model::Query::group_by_gid(50), g);
  ASSERT_TRUE(rec);
  std::int32_t gf[8];
  std::memcpy(gf, rec->data(), sizeof gf);
  EXPECT_EQ(gf[5], 2);  // members
  EXPECT_EQ(gf[6], 6);  // "alice\0"
  EXPECT_EQ(gf[7], 4);  // "bob\0"
  // A field with a NUL in it would be cut by glibc: not a record.
  u.gecos = std::string("a\0b", 3);
  EXPECT_FALSE(nscd::encode_found(model::Query::user_by_name("alice"), u));
  // The wrong alternative for the kind.
  EXPECT_FALSE(nscd::encode_found(model::Query::user_by_name("alice"), g));
  auto nf = nscd::encode_not_found(model::Kind::kInitgroups);
  ASSERT_EQ(nf.size(), nscd::kInitgrHeaderSize);
  EXPECT_EQ(nf[0], 2);
  EXPECT_EQ(nf[4], 0);
}

// The client side of a map, as glibc's reader does it: map what the
// descriptor names read-only, check the header, search a bucket's chain with
// every bounds check glibc makes.
struct ClientMap {
  explicit ClientMap(int fd, std::uint64_t size) : size(size) {
    base = static_cast<const unsigned char*>(::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0));
  }
  ~ClientMap() {
    if (base != MAP_FAILED) ::munmap(const_cast<unsigned char*>(base), size);
  }
  const GlibcHead* head() const { return reinterpret_cast<const GlibcHead*>(base); }
  const unsigned char* data() const {
    return base + head()->header_size + (head()->module * 4 + 15) / 16 * 16;
  }
  // The record's bytes after the datahead, or nullopt.
  std::optional<std::vector<std::uint8_t>> find(nscd::RequestType type, std::string key) const {
    key.push_back('\0');
    const auto* kb = reinterpret_cast<const std::uint8_t*>(key.data());
    const std::uint32_t bucket = L::key_hash({kb, key.size()}) % static_cast<std::uint32_t>(head()->module);
    const auto* table = reinterpret_cast<const std::uint32_t*>(base + L::kHeadSize);
    const std::size_t datasize = static_cast<std::size_t>(head()->data_size);
    std::uint32_t work = table[bucket];
    for (int guard = 0; work != L::kEndRef && work + 28 <= datasize && guard < 100000; ++guard) {
      const auto* he = reinterpret_cast<const GlibcHashEntry*>(data() + work);
      if (he->type == static_cast<int>(type) && he->len == static_cast<std::int32_t>(key.size()) &&
          he->key + key.size() <= datasize && std::memcmp(data() + he->key, key.data(), key.size()) == 0 &&
          he->packet + sizeof(GlibcDataHead) <= datasize) {
        const auto* dh = reinterpret_cast<const GlibcDataHead*>(data() + he->packet);
        if (dh->usable && he->packet + static_cast<std::uint32_t>(dh->allocsize) <= datasize) {
          const unsigned char* rec = data() + he->packet + sizeof(GlibcDataHead);
          return std::vector<std::uint8_t>(rec, rec + dh->recsize);
        }
      }
      work = he->next;
    }
    return std::nullopt;
  }
  const unsigned char* base;
  std::uint64_t size;
};

TEST(NscdMap, PublishedRecordsAreFoundTheWayGlibcSearches) {
  auto maps = fastcache::NscdMaps::create({});
  ASSERT_TRUE(maps) << maps.error().to_string();
  model::User alice{"alice", "x", 1000, 100, "Alice", "/home/alice", "/bin/sh"};
  (*maps)->publish(model::Query::user_by_name("alice"), alice, std::chrono::seconds(60));
  (*maps)->publish_negative(model::Query::user_by_name("ghost"), std::chrono::seconds(60));
  (*maps)->publish(model::Query::initgroups("alice"), model::Gids{10, 20}, std::chrono::seconds(60));
  auto out = (*maps)->handout(nscd::Database::kPasswd);
  ASSERT_TRUE(out);
  // Read-only for the client: no writable mapping, no write.
  EXPECT_EQ(::mmap(nullptr, out->size, PROT_READ | PROT_WRITE, MAP_SHARED, out->fd, 0), MAP_FAILED);
  EXPECT_EQ(::write(out->fd, "x", 1), -1);
  struct stat st{};
  ASSERT_EQ(::fstat(out->fd, &st), 0);
  EXPECT_EQ(static_cast<std::uint64_t>(st.st_size), out->size);
  EXPECT_NE(::ftruncate(out->fd, 0), 0);
  ClientMap client(out->fd, out->size);
  ::close(out->fd);
  ASSERT_NE(client.base, MAP_FAILED);
  EXPECT_EQ(client.head()->version, 2);
  EXPECT_EQ(client.head()->header_size, 120);
  EXPECT_EQ(client.head()->gc_cycle % 2, 0);
  EXPECT_GT(client.head()->module, 0);
  EXPECT_GE(client.size, 120 + (client.head()->module * 4 + 15) / 16 * 16 + client.head()->data_size);
  auto expected = nscd::encode_found(model::Query::user_by_name("alice"), alice);
  EXPECT_EQ(client.find(nscd::RequestType::kGetpwbyname, "alice"), expected);
  EXPECT_EQ(client.find(nscd::RequestType::kGetpwbyuid, "1000"), expected);
  EXPECT_EQ(client.find(nscd::RequestType::kGetpwbyname, "ghost"),
            nscd::encode_not_found(model::Kind::kUserByName));
  EXPECT_FALSE(client.find(nscd::RequestType::kGetpwbyname, "bob"));
  EXPECT_FALSE(client.find(nscd::RequestType::kGetgrbyname, "alice"));  // the type is part of the key

  // A newer answer shadows the older one; a renamed user's old name is dropped.
  model::User renamed = alice;
  renamed.name = "alicia";
  (*maps)->publish(model::Query::user_by_uid(1000), renamed, std::chrono::seconds(60));
  EXPECT_EQ(client.find(nscd::RequestType::kGetpwbyuid, "1000"),
            nscd::encode_found(model::Query::user_by_uid(1000), renamed));
  EXPECT_FALSE(client.find(nscd::RequestType::kGetpwbyname, "alice"));

  // Invalidation retires the map the client holds: gc_cycle odd, timestamp stale.
  ASSERT_TRUE((*maps)->invalidate(true, false));
  EXPECT_EQ(client.head()->gc_cycle % 2, 1);
  EXPECT_EQ(client.head()->nscd_certainly_running, 0);
  EXPECT_EQ(client.head()->timestamp, 0u);

  auto group = (*maps)->handout(nscd::Database::kGroup);
  ASSERT_TRUE(group);
  ClientMap gclient(group->fd, group->size);
  ::close(group->fd);
  EXPECT_EQ(gclient.find(nscd::RequestType::kInitgroups, "alice"),
            nscd::encode_found(model::Query::initgroups("alice"), model::Gids{10, 20}));
}

TEST(NscdMap, ExpiredRecordsBecomeUnusable) {
  auto maps = fastcache::NscdMaps::create({});
  ASSERT_TRUE(maps);
  (*maps)->publish_negative(model::Query::group_by_name("nope"), std::chrono::milliseconds(1));
  auto out = (*maps)->handout(nscd::Database::kGroup);
  ASSERT_TRUE(out);
  ClientMap client(out->fd, out->size);
  ::close(out->fd);
  EXPECT_TRUE(client.find(nscd::RequestType::kGetgrbyname, "nope"));  // the ttl rounds up to 1 s
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (client.find(nscd::RequestType::kGetgrbyname, "nope") && std::chrono::steady_clock::now() < deadline) {
    (*maps)->sweep();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_FALSE(client.find(nscd::RequestType::kGetgrbyname, "nope"));
}

std::string stat_of(const fastcache::NscdMaps& maps, const std::string& key) {
  for (auto& [k, v] : maps.stats()) {
    if (k == key) return v;
  }
  return "";
}

TEST(NscdMap, AFullMapIsReplacedNotOverwrittenAtMostOnceAMinute) {
  fastcache::NscdMapOptions small;
  small.data_bytes = 4096;
  small.buckets = 7;
  auto maps = fastcache::NscdMaps::create(small);
  ASSERT_TRUE(maps);
  auto first = (*maps)->handout(nscd::Database::kPasswd);
  ASSERT_TRUE(first);
  ClientMap old_map(first->fd, first->size);
  ::close(first->fd);
  auto user = [](std::uint32_t i) {
    return model::User{"user" + std::to_string(i), "x", 2000 + i, 100, "", "/home/u", "/bin/sh"};
  };
  for (std::uint32_t i = 0; i < 100; ++i) (*maps)->publish(model::Query::user_by_uid(2000 + i), user(i), std::chrono::seconds(60));
  // The map the client holds kept every record it had, and was retired.
  EXPECT_TRUE(old_map.find(nscd::RequestType::kGetpwbyname, "user0"));
  EXPECT_EQ(old_map.head()->gc_cycle % 2, 1);
  std::uint32_t first_missing = 0;
  while (old_map.find(nscd::RequestType::kGetpwbyname, "user" + std::to_string(first_missing))) ++first_missing;
  ASSERT_GT(first_missing, 0u);
  ASSERT_LT(first_missing, 100u);
  auto now = (*maps)->handout(nscd::Database::kPasswd);
  ASSERT_TRUE(now);
  ClientMap fresh(now->fd, now->size);
  ::close(now->fd);
  EXPECT_TRUE(fresh.find(nscd::RequestType::kGetpwbyname, "user" + std::to_string(first_missing)));
  EXPECT_EQ(fresh.head()->gc_cycle % 2, 0);
  EXPECT_LE(static_cast<std::uint32_t>(fresh.head()->first_free), static_cast<std::uint32_t>(fresh.head()->data_size));
  // It filled again within the minute: no third map, the rest waits on the socket.
  EXPECT_EQ(stat_of(**maps, "nscd.maps_made"), "3");  // passwd and group at start, one replacement
  EXPECT_NE(stat_of(**maps, "nscd.records_dropped"), "0");
  EXPECT_FALSE(fresh.find(nscd::RequestType::kGetpwbyname, "user99"));
}

TEST(NscdMap, TheSameAnswerAgainIsNotAppendedAgain) {
  auto maps = fastcache::NscdMaps::create({});
  ASSERT_TRUE(maps);
  model::User alice{"alice", "x", 1000, 100, "Alice", "/home/alice", "/bin/sh"};
  (*maps)->publish(model::Query::user_by_name("alice"), alice, std::chrono::seconds(60));
  const std::string used = stat_of(**maps, "nscd.passwd.used_bytes");
  for (int i = 0; i < 1000; ++i) {
    (*maps)->publish(model::Query::user_by_name("alice"), alice, std::chrono::seconds(60));
    (*maps)->publish(model::Query::user_by_uid(1000), alice, std::chrono::seconds(60));
  }
  EXPECT_EQ(stat_of(**maps, "nscd.passwd.used_bytes"), used);
  // A changed answer is appended.
  alice.gecos = "Alice B.";
  (*maps)->publish(model::Query::user_by_name("alice"), alice, std::chrono::seconds(60));
  EXPECT_NE(stat_of(**maps, "nscd.passwd.used_bytes"), used);
}

TEST(NscdMap, NamesNobodyHasFillAQuarterOfAMapAtMost) {
  fastcache::NscdMapOptions small;
  small.data_bytes = 64 * 1024;
  auto maps = fastcache::NscdMaps::create(small);
  ASSERT_TRUE(maps);
  for (int i = 0; i < 10000; ++i) {
    (*maps)->publish_negative(model::Query::user_by_name("ghost" + std::to_string(i)), std::chrono::seconds(60));
  }
  EXPECT_EQ(stat_of(**maps, "nscd.maps_made"), "2") << "negative answers made the map be replaced";
  EXPECT_LE(std::stoul(stat_of(**maps, "nscd.passwd.used_bytes")), small.data_bytes / 4);
  // Real answers still fit.
  model::User bob{"bob", "x", 1001, 100, "", "/home/bob", "/bin/sh"};
  (*maps)->publish(model::Query::user_by_name("bob"), bob, std::chrono::seconds(60));
  auto out = (*maps)->handout(nscd::Database::kPasswd);
  ASSERT_TRUE(out);
  ClientMap client(out->fd, out->size);
  ::close(out->fd);
  EXPECT_TRUE(client.find(nscd::RequestType::kGetpwbyname, "bob"));
}

// Two front workers' maps over one epochs page: an invalidation in one
// retires the other's map of that database (and only that one) before the
// other hands a map out or publishes again; the fresh map has the new answers.
TEST(NscdMap, AnInvalidationInOneWorkerRetiresTheOthersMap) {
  auto epochs = fastcache::NscdEpochs::create();
  ASSERT_TRUE(epochs) << epochs.error().to_string();
  auto a = fastcache::NscdMaps::create({}, *epochs);
  auto b = fastcache::NscdMaps::create({}, *epochs);
  ASSERT_TRUE(a && b);
  model::User alice{"alice", "x", 1000, 100, "Alice", "/home/alice", "/bin/sh"};
  (*b)->publish(model::Query::user_by_name("alice"), alice, std::chrono::seconds(60));
  auto old_pw = (*b)->handout(nscd::Database::kPasswd);
  auto old_gr = (*b)->handout(nscd::Database::kGroup);
  ASSERT_TRUE(old_pw && old_gr);
  ClientMap before(old_pw->fd, old_pw->size), group_before(old_gr->fd, old_gr->size);
  ASSERT_TRUE(before.find(nscd::RequestType::kGetpwbyname, "alice"));
  EXPECT_EQ(before.head()->gc_cycle % 2, 0);

  ASSERT_TRUE((*a)->invalidate(true, false).is_ok());
  // b has not looked yet: its map still stands (the check is b's own, at its
  // next handout, publish or sweep).
  EXPECT_EQ(before.head()->gc_cycle % 2, 0);
  auto fresh = (*b)->handout(nscd::Database::kPasswd);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(before.head()->gc_cycle % 2, 1) << "b's old passwd map was not retired";
  EXPECT_EQ(group_before.head()->gc_cycle % 2, 0) << "the group map was not invalidated";
  ClientMap after(fresh->fd, fresh->size);
  EXPECT_FALSE(after.find(nscd::RequestType::kGetpwbyname, "alice"));
  (*b)->publish(model::Query::user_by_name("alice"), alice, std::chrono::seconds(60));
  EXPECT_TRUE(after.find(nscd::RequestType::kGetpwbyname, "alice"));
  // A sweep catches up too, and a map is retired once per invalidation only.
  ASSERT_TRUE((*a)->invalidate(false, true).is_ok());
  (*b)->sweep();
  EXPECT_EQ(group_before.head()->gc_cycle % 2, 1);
  EXPECT_EQ(after.head()->gc_cycle % 2, 0);
  for (int fd : {old_pw->fd, old_gr->fd, fresh->fd}) ::close(fd);
}

}  // namespace
