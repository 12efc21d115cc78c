// The LMDB store, on real LMDB files in a private temporary directory: what is
// put comes back whole with its times; negative answers; providers apart;
// a full map evicts the oldest and keeps working; a record too big for the
// map is refused and harms nothing; several processes share one store; a
// corrupt or foreign file is replaced, never fatal; every fd is close-on-exec.
#include "store/store.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "store/record_codec.h"
#include "store/store_writer.h"
#include "support/temp_dir.h"

namespace fastid::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(tmp_.path(), "");
    root_ = tmp_.path();
    dir_ = root_ + "/store";
  }

  std::unique_ptr<Store> open_store(std::uint64_t map_size = 16ull << 20) {
    Options o;
    o.dir = dir_;
    o.map_size = map_size;
    auto s = Store::open(o);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().to_string());
    return s ? std::move(*s) : nullptr;
  }

  static model::User user(int i) {
    model::User u;
    u.name = "user" + std::to_string(i);
    u.uid = 100000 + static_cast<std::uint32_t>(i);
    u.gid = 200000;
    u.gecos = "User " + std::to_string(i);
    u.dir = "/home/" + u.name;
    u.shell = "/bin/sh";
    return u;
  }

  fastid::testing::TempDir tmp_{"/tmp/fastid-store-test."};
  std::string root_, dir_;
};

TEST_F(StoreTest, EmptyStoreHasNothing) {
  auto s = open_store();
  ASSERT_TRUE(s);
  auto r = s->user_by_name("p", "alice");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(s->stats().entries, 0u);
}

TEST_F(StoreTest, UserComesBackByNameAndUidWithItsTimes) {
  auto s = open_store();
  ASSERT_TRUE(s);
  model::User u = user(7);
  u.gecos = "Seven: with ,commas; and\ttabs";
  ASSERT_TRUE(s->put_user("corp", u, 1000, 2000));
  auto byname = s->user_by_name("corp", "user7");
  ASSERT_TRUE(byname && byname->has_value());
  EXPECT_EQ((*byname)->value, u);
  EXPECT_FALSE((*byname)->negative);
  EXPECT_EQ((*byname)->fetched, 1000);
  EXPECT_EQ((*byname)->expires, 2000);
  EXPECT_TRUE((*byname)->fresh(1999));
  EXPECT_FALSE((*byname)->fresh(2000));
  // The clock set back before the fetch: the record's age is unknown, it is
  // neither fresh nor young enough for an offline answer (clock_jump_system_test).
  EXPECT_FALSE((*byname)->fresh(999));
  EXPECT_TRUE((*byname)->fetched_within(1500, 500));
  EXPECT_FALSE((*byname)->fetched_within(1501, 500));
  EXPECT_FALSE((*byname)->fetched_within(999, 500));
  auto byuid = s->user_by_uid("corp", 100007);
  ASSERT_TRUE(byuid && byuid->has_value());
  EXPECT_EQ((*byuid)->value, u);
  EXPECT_EQ(s->stats().entries, 2u);
}

TEST_F(StoreTest, GroupsAndInitgroupsComeBackWhole) {
  auto s = open_store();
  ASSERT_TRUE(s);
  model::Group g;
  g.name = "staff";
  g.gid = 50;
  for (int i = 0; i < 5000; ++i) g.members.push_back("member" + std::to_string(i));
  ASSERT_TRUE(s->put_group("corp", g, 1, 2));
  auto byname = s->group_by_name("corp", "staff");
  ASSERT_TRUE(byname && byname->has_value());
  EXPECT_EQ((*byname)->value, g);
  auto bygid = s->group_by_gid("corp", 50);
  ASSERT_TRUE(bygid && bygid->has_value());
  EXPECT_EQ((*bygid)->value, g);

  std::vector<std::uint32_t> gids = {5, 7, 200001, 4294967294u};
  ASSERT_TRUE(s->put_initgroups("corp", "alice", gids, 1, 2));
  auto ig = s->initgroups("corp", "alice");
  ASSERT_TRUE(ig && ig->has_value());
  EXPECT_EQ((*ig)->value, gids);
  ASSERT_TRUE(s->put_initgroups("corp", "nobody-in-groups", {}, 1, 2));
  auto empty = s->initgroups("corp", "nobody-in-groups");
  ASSERT_TRUE(empty && empty->has_value());
  EXPECT_TRUE((*empty)->value.empty());
}

// What a lookup asked for may be a password typed at a login prompt: a
// negative answer by name is stored under a keyed digest, and no byte of the
// store's files holds the name (security issue #11).
TEST_F(StoreTest, NegativeAnswersByNameKeepNoNameInTheFiles) {
  const std::string canary = "Canary-Store-7f3e9a1b";
  {
    auto s = open_store();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->put_negative("corp", Map::kUserByName, canary, 10, 20));
    ASSERT_TRUE(s->put_negative("corp", Map::kGroupByName, canary, 10, 20));
    ASSERT_TRUE(s->put_negative("corp", Map::kInitgroups, canary, 10, 20));
    for (auto r : {s->user_by_name("corp", canary)}) {
      ASSERT_TRUE(r && r->has_value());
      EXPECT_TRUE((*r)->negative);
    }
    auto g = s->group_by_name("corp", canary);
    ASSERT_TRUE(g && g->has_value());
    EXPECT_TRUE((*g)->negative);
    auto ig = s->initgroups("corp", canary);
    ASSERT_TRUE(ig && ig->has_value());
    EXPECT_TRUE((*ig)->negative);
    // Another name's digest is another key.
    auto other = s->user_by_name("corp", canary + "x");
    ASSERT_TRUE(other.has_value());
    EXPECT_FALSE(other->has_value());
    ASSERT_TRUE(s->sync());
  }
  for (const auto& e : fs::recursive_directory_iterator(root_)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(bytes.find(canary), std::string::npos) << e.path();
  }
  // The key survives a reopen: the digest still finds the answer.
  auto s = open_store();
  auto r = s->user_by_name("corp", canary);
  ASSERT_TRUE(r && r->has_value());
  EXPECT_TRUE((*r)->negative);
  // A newer negative answer wins over an older positive one, and the reverse.
  model::User u = user(1);
  u.name = "flip";
  ASSERT_TRUE(s->put_user("corp", u, 30, 40));
  ASSERT_TRUE(s->put_negative("corp", Map::kUserByName, "flip", 31, 41));
  auto flip = s->user_by_name("corp", "flip");
  ASSERT_TRUE(flip && flip->has_value());
  EXPECT_TRUE((*flip)->negative);
  ASSERT_TRUE(s->put_user("corp", u, 32, 42));
  flip = s->user_by_name("corp", "flip");
  ASSERT_TRUE(flip && flip->has_value());
  EXPECT_FALSE((*flip)->negative);
}

TEST_F(StoreTest, NegativeAnswersAreRecordsOfTheirOwn) {
  auto s = open_store();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_negative("corp", model::Query::user_by_name("ghost"), 10, 20));
  ASSERT_TRUE(s->put_negative("corp", model::Query::user_by_uid(4242), 10, 20));
  auto r = s->user_by_name("corp", "ghost");
  ASSERT_TRUE(r && r->has_value());
  EXPECT_TRUE((*r)->negative);
  EXPECT_EQ((*r)->expires, 20);
  auto byuid = s->user_by_uid("corp", 4242);
  ASSERT_TRUE(byuid && byuid->has_value());
  EXPECT_TRUE((*byuid)->negative);
  // The same name in another map is not touched.
  auto grp = s->group_by_name("corp", "ghost");
  ASSERT_TRUE(grp.has_value());
  EXPECT_FALSE(grp->has_value());
  // A positive answer replaces the negative one.
  model::User u = user(1);
  u.name = "ghost";
  ASSERT_TRUE(s->put_user("corp", u, 30, 40));
  auto now = s->user_by_name("corp", "ghost");
  ASSERT_TRUE(now && now->has_value());
  EXPECT_FALSE((*now)->negative);
  EXPECT_EQ((*now)->value, u);
}

// Negative answers have a budget of their own (issue #20, "a flood of
// random unknown names"): past it the oldest negative answers go, never a
// positive record, even in a map small enough that the flood alone would
// fill it; through batches (the writer's path) and single puts alike.
TEST_F(StoreTest, AFloodOfNegativeAnswersEvictsOlderNegativesOnly) {
  Options o;
  o.dir = dir_;
  o.map_size = 1ull << 20;  // 20,000 negative answers alone would fill it
  o.max_negative_entries = 500;
  auto opened = Store::open(o);
  ASSERT_TRUE(opened) << opened.error().to_string();
  auto& s = *opened;
  for (int i = 1; i <= 300; ++i) ASSERT_TRUE(s->put_user("corp", user(i), i, 1000000));
  Millis t = 1000;
  for (int round = 0; round < 200; ++round) {
    ASSERT_TRUE(s->put_batch([&] {
      for (int j = 0; j < 50; ++j, ++t) {
        ASSERT_TRUE(s->put_negative("corp", Map::kUserByName, "nosuch" + std::to_string(t), t, t + 1000000));
      }
    }));
  }
  for (int i = 0; i < 1000; ++i, ++t)
    ASSERT_TRUE(s->put_negative("corp", model::Query::user_by_uid(static_cast<std::uint32_t>(900000 + i)), t, t + 1000000));
  const Stats st = s->stats();
  EXPECT_LE(st.negative_entries, 500u);
  EXPECT_GT(st.negative_evictions, 0u);
  EXPECT_EQ(st.evictions, st.negative_evictions) << "a positive record was evicted";
  for (int i = 1; i <= 300; ++i) {
    auto r = s->user_by_name("corp", "user" + std::to_string(i));
    ASSERT_TRUE(r && r->has_value()) << "user" << i << " was evicted";
    EXPECT_FALSE((*r)->negative);
    auto byuid = s->user_by_uid("corp", 100000 + static_cast<std::uint32_t>(i));
    ASSERT_TRUE(byuid && byuid->has_value()) << "uid of user" << i << " was evicted";
  }
  // The newest negative answers are kept, the oldest went.
  auto newest = s->user_by_uid("corp", 900999);
  ASSERT_TRUE(newest && newest->has_value());
  EXPECT_TRUE((*newest)->negative);
  auto oldest = s->user_by_name("corp", "nosuch1000");
  ASSERT_TRUE(oldest.has_value());
  EXPECT_FALSE(oldest->has_value());
}

TEST_F(StoreTest, ProvidersDoNotSeeEachOthersRecords) {
  auto s = open_store();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_user("a", user(1), 1, 2));
  auto other = s->user_by_name("b", "user1");
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->has_value());
  // A provider whose name is a prefix of another's is still apart.
  auto prefix = s->user_by_name("", "user1");
  ASSERT_TRUE(prefix.has_value());
  EXPECT_FALSE(prefix->has_value());
  ASSERT_TRUE(s->put_user("ab", user(2), 1, 2));
  EXPECT_TRUE(*s->has_records("a"));
  EXPECT_TRUE(*s->has_records("ab"));
  EXPECT_FALSE(*s->has_records("b"));
  EXPECT_FALSE(*s->has_records("abc"));
  ASSERT_TRUE(s->clear("a"));
  EXPECT_FALSE(*s->has_records("a"));
  EXPECT_FALSE(s->user_by_name("a", "user1")->has_value());
  EXPECT_TRUE(s->user_by_name("ab", "user2")->has_value());
  ASSERT_TRUE(s->clear(""));
  EXPECT_EQ(s->stats().entries, 0u);
}

TEST_F(StoreTest, RecordsSurviveReopening) {
  {
    auto s = open_store();
    ASSERT_TRUE(s);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(s->put_user("corp", user(i), i, i + 1));
  }
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().entries, 2000u);
  EXPECT_EQ(s->stats().replaced, 0u);
  auto r = s->user_by_uid("corp", 100500);
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ((*r)->value, user(500));
  EXPECT_EQ((*r)->fetched, 500);
}

TEST_F(StoreTest, FullMapEvictsTheOldestAndKeepsWorking) {
  // 1 MiB of map and ~120-byte users: room for a few thousand records, far
  // fewer than written.
  auto s = open_store(1ull << 20);
  ASSERT_TRUE(s);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    core::Status st = s->put_user("corp", user(i), 1000 + i, 1000000 + i);
    ASSERT_TRUE(st) << "put " << i << ": " << st.to_string();
  }
  Stats st = s->stats();
  EXPECT_GT(st.evictions, 0u);
  EXPECT_LT(st.entries, static_cast<std::uint64_t>(2 * n));
  EXPECT_EQ(st.write_errors, 0u);
  // The newest are there, whole; the oldest went first.
  auto newest = s->user_by_name("corp", "user" + std::to_string(n - 1));
  ASSERT_TRUE(newest && newest->has_value());
  EXPECT_EQ((*newest)->value, user(n - 1));
  auto oldest = s->user_by_name("corp", "user0");
  ASSERT_TRUE(oldest.has_value());
  EXPECT_FALSE(oldest->has_value());
  // Every record still present decodes whole (no corruption from eviction).
  int present = 0;
  for (int i = 0; i < n; ++i) {
    auto r = s->user_by_uid("corp", 100000 + static_cast<std::uint32_t>(i));
    ASSERT_TRUE(r.has_value());
    if (r->has_value()) {
      ++present;
      EXPECT_EQ((*r)->value, user(i));
    }
  }
  EXPECT_GT(present, 100);
  // And the file opens again as a healthy store.
  s.reset();
  auto again = open_store(1ull << 20);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->stats().replaced, 0u);
}

TEST_F(StoreTest, RecordLargerThanTheMapIsRefusedClearly) {
  auto s = open_store(1ull << 20);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_user("corp", user(1), 1, 2));
  model::Group huge;
  huge.name = "huge";
  huge.gid = 9;
  for (int i = 0; i < 200000; ++i)
    huge.members.push_back("member-with-a-long-name-" + std::to_string(i));
  core::Status st = s->put_group("corp", huge, 1, 2);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.code(), core::Code::kBusy);
  EXPECT_NE(st.message().find("no room"), std::string::npos) << st.message();
  EXPECT_EQ(s->stats().write_errors, 1u);
  // Nothing half-written, and the store still takes records.
  EXPECT_FALSE(s->group_by_name("corp", "huge")->has_value());
  ASSERT_TRUE(s->put_user("corp", user(2), 3, 4));
  EXPECT_TRUE(s->user_by_name("corp", "user2")->has_value());
}

// Issue 17: the misses of one loop turn are written together (put_batch): all
// of them are stored, and a record that cannot be stored costs only itself —
// the batch falls back to one transaction per put.
TEST_F(StoreTest, ABatchStoresEveryPutAndARecordThatDoesNotFitCostsOnlyItself) {
  auto s = open_store(1ull << 20);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_batch([&] {
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(s->put_user("corp", user(i), 1, 2));
  }));
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(s->user_by_name("corp", "user" + std::to_string(i))->has_value()) << i;
  EXPECT_EQ(s->stats().entries, 40u);  // by name and by uid

  model::Group huge;
  huge.name = "huge";
  huge.gid = 9;
  for (int i = 0; i < 200000; ++i) huge.members.push_back("member-with-a-long-name-" + std::to_string(i));
  const core::Status st = s->put_batch([&] {
    // Newer than the first twenty: making room for the huge record evicts the oldest.
    (void)s->put_user("corp", user(100), 10, 20);
    (void)s->put_group("corp", huge, 10, 20);
    (void)s->put_user("corp", user(101), 10, 20);
  });
  ASSERT_FALSE(st);
  EXPECT_NE(st.message().find("no room"), std::string::npos) << st.message();
  EXPECT_EQ(s->stats().write_errors, 1u) << "one put failed";
  EXPECT_FALSE(s->group_by_name("corp", "huge")->has_value());
  EXPECT_TRUE(s->user_by_name("corp", "user100")->has_value());
  EXPECT_TRUE(s->user_by_name("corp", "user101")->has_value());
  // Outside a batch, puts are written at once again.
  ASSERT_TRUE(s->put_user("corp", user(102), 3, 4));
  EXPECT_TRUE(s->user_by_name("corp", "user102")->has_value());
}

// A process that reads holds its snapshot of the map until its read ends:
// until then no page the others free may be reused, and they write on fresh
// pages. One descheduled mid-read on a loaded machine let three writers fill
// a 16 MiB map in this test (MDB_MAP_FULL: put_user failed, child exit 11).
// So the worst case is made to happen on every run: a reader holds one
// snapshot, from before the first put to after the last, and the map is
// sized for every page the test writes (2,000 commits of about 6 pages,
// under 50 MiB: the map is more than twice that, so no put finds it full).
TEST_F(StoreTest, ProcessesShareOneStore) {
  constexpr std::uint64_t kMapSize = 128ull << 20;
  auto s = open_store(kMapSize);
  ASSERT_TRUE(s);
  s.reset();  // never carried across a fork: each child opens its own
  int ready[2], stop[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(stop, O_CLOEXEC), 0);
  const pid_t reader = ::fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {
    ::close(stop[1]);
    MDB_env* env = nullptr;
    MDB_txn* txn = nullptr;
    if (mdb_env_create(&env) != 0 || mdb_env_set_mapsize(env, kMapSize) != 0 ||
        mdb_env_set_maxdbs(env, 4) != 0 || mdb_env_open(env, dir_.c_str(), MDB_NOTLS, 0600) != 0 ||
        mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) != 0)
      ::_exit(20);
    (void)!::write(ready[1], "r", 1);
    char byte;
    (void)!::read(stop[0], &byte, 1);  // until the test closes its end
    mdb_txn_abort(txn);
    mdb_env_close(env);
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(stop[0]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1) << "the reader could not open the store";
  ::close(ready[0]);
  constexpr int kProcs = 4, kEach = 500;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      Options o;
      o.dir = dir_;
      o.map_size = kMapSize;
      auto mine = Store::open(o);
      if (!mine) ::_exit(10);
      for (int i = 0; i < kEach; ++i) {
        const int id = p * kEach + i;
        if (Status st = (*mine)->put_user("corp", user(id), id, id + 1); !st) {
          std::fprintf(stderr, "child %d, put %d: %s\n", p, i, st.to_string().c_str());
          ::_exit(11);
        }
        // Read what another process wrote a moment ago, when it is there.
        auto r = (*mine)->user_by_name("corp",
                                       "user" + std::to_string(((p + 1) % kProcs) * kEach + i / 2));
        if (!r) ::_exit(12);
        if (r->has_value() && !((*r)->value == user(((p + 1) % kProcs) * kEach + i / 2)))
          ::_exit(13);
      }
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  ::close(stop[1]);
  int reader_status = 0;
  ASSERT_EQ(::waitpid(reader, &reader_status, 0), reader);
  EXPECT_TRUE(WIFEXITED(reader_status) && WEXITSTATUS(reader_status) == 0) << reader_status;
  auto after = open_store(kMapSize);
  ASSERT_TRUE(after);
  const Stats st = after->stats();
  std::printf("map pages used with one snapshot held throughout: %.1f MiB of %.0f MiB\n",
              static_cast<double>(st.used_bytes) / (1 << 20), static_cast<double>(st.map_size) / (1 << 20));
  EXPECT_EQ(st.evictions, 0u);
  EXPECT_EQ(st.entries, static_cast<std::uint64_t>(2 * kProcs * kEach));
  for (int id = 0; id < kProcs * kEach; id += 97) {
    auto r = after->user_by_uid("corp", 100000 + static_cast<std::uint32_t>(id));
    ASSERT_TRUE(r && r->has_value()) << id;
    EXPECT_EQ((*r)->value, user(id));
  }
}

TEST_F(StoreTest, GarbageFileIsReplacedNotFatal) {
  fs::create_directories(dir_);
  {
    std::ofstream f(dir_ + "/data.mdb", std::ios::binary);
    for (int i = 0; i < 100000; ++i) f << "not an lmdb file ";
  }
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().replaced, 1u);
  EXPECT_TRUE(fs::exists(dir_ + "/data.mdb.bad"));
  ASSERT_TRUE(s->put_user("corp", user(1), 1, 2));
  EXPECT_TRUE(s->user_by_name("corp", "user1")->has_value());
}

TEST_F(StoreTest, TruncatedFileIsReplaced) {
  {
    auto s = open_store();
    ASSERT_TRUE(s);
    for (int i = 0; i < 2000; ++i) ASSERT_TRUE(s->put_user("corp", user(i), 1, 2));
  }
  fs::resize_file(dir_ + "/data.mdb", 100);
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().replaced, 1u);
  EXPECT_EQ(s->stats().entries, 0u);
}

TEST_F(StoreTest, DamagedPagesAreDetectedAndReplaced) {
  {
    auto s = open_store();
    ASSERT_TRUE(s);
    for (int i = 0; i < 5000; ++i) ASSERT_TRUE(s->put_user("corp", user(i), 1, 2));
  }
  // Overwrite the branch/leaf pages past the two meta pages with a pattern
  // that is no page LMDB wrote (flags and page numbers out of range).
  const auto size = fs::file_size(dir_ + "/data.mdb");
  ASSERT_GT(size, 3 * 4096u);
  {
    std::fstream f(dir_ + "/data.mdb", std::ios::in | std::ios::out | std::ios::binary);
    std::string junk(size - 2 * 4096, '\xA5');
    f.seekp(2 * 4096);
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().replaced, 1u);
  ASSERT_TRUE(s->put_user("corp", user(1), 1, 2));
  EXPECT_TRUE(s->user_by_name("corp", "user1")->has_value());
}

TEST_F(StoreTest, StoreOfAnotherFormatIsReplaced) {
  // A valid LMDB file whose format record names another version.
  fs::create_directories(dir_);
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  ASSERT_EQ(mdb_env_open(env, dir_.c_str(), 0, 0600), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi meta;
  ASSERT_EQ(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
  std::string k = "format", v = "fastid-store/99";
  MDB_val mk{k.size(), k.data()}, mv{v.size(), v.data()};
  ASSERT_EQ(mdb_put(txn, meta, &mk, &mv, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);

  auto s = open_store();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->stats().replaced, 1u);
  ASSERT_TRUE(s->put_user("corp", user(3), 1, 2));
  EXPECT_TRUE(s->user_by_name("corp", "user3")->has_value());
}

TEST_F(StoreTest, RecordThatDoesNotDecodeIsAMissAndIsDeleted) {
  auto s = open_store();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_user("corp", user(1), 1, 2));
  s.reset();
  // Write a damaged value under the user's key with LMDB directly.
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  mdb_env_set_mapsize(env, 16ull << 20);
  ASSERT_EQ(mdb_env_open(env, dir_.c_str(), 0, 0600), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi records;
  ASSERT_EQ(mdb_dbi_open(txn, "records", 0, &records), 0);
  std::string k = Store::key("corp", Map::kUserByName, "user1");
  std::string v = codec::encode_user({false, Map::kUserByName, 1, 2}, user(1));
  v[codec::kHeaderSize] = '\x7f';  // the name's length now runs past the end
  MDB_val mk{k.size(), k.data()}, mv{v.size(), v.data()};
  ASSERT_EQ(mdb_put(txn, records, &mk, &mv, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);

  s = open_store();
  ASSERT_TRUE(s);
  auto r = s->user_by_name("corp", "user1");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(s->stats().entries, 1u);  // the damaged one is gone, the by-uid one stays
  EXPECT_TRUE(s->user_by_uid("corp", 100001)->has_value());
}

TEST_F(StoreTest, CodecRejectsEveryTruncation) {
  model::Group g;
  g.name = "g";
  g.gid = 1;
  g.members = {"a", "bb", "ccc"};
  const std::string bytes = codec::encode_group({false, Map::kGroupByName, 1, 2}, g);
  ASSERT_TRUE(codec::decode_group(bytes).has_value());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(codec::decode_group(std::string_view(bytes).substr(0, n)).has_value()) << n;
  }
  EXPECT_FALSE(codec::decode_group(bytes + "x").has_value());
  EXPECT_FALSE(codec::decode_header("FSR2xxxxxxxxxxxxxxxxxxxxxxxx").has_value());
}

TEST_F(StoreTest, EveryDescriptorIsCloseOnExec) {
  auto s = open_store();
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put_user("corp", user(1), 1, 2));
  int store_fds = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const auto target = fs::read_symlink(e.path(), ec);
    if (ec || target.string().rfind(dir_, 0) != 0) continue;
    ++store_fds;
    const int fd = std::stoi(e.path().filename().string());
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC) << target;
  }
  EXPECT_GE(store_fds, 2);  // data.mdb and lock.mdb at least
}

TEST_F(StoreTest, RelativeDirectoryIsRefused) {
  Options o;
  o.dir = "relative/store";
  auto s = Store::open(o);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), core::Code::kInvalidArgument);
}


TEST_F(StoreTest, EraseDropsOneKeyAndClearMapsDropsWholeMapsOfEveryProvider) {
  auto s = open_store();
  ASSERT_TRUE(s);
  const Millis now = now_millis();
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(s->put_user("corp", user(i), now, now + 60000));
    ASSERT_TRUE(s->put_user("other", user(i), now, now + 60000));
  }
  model::Group g{"staff", "x", 200000, {"user1"}};
  ASSERT_TRUE(s->put_group("corp", g, now, now + 60000));
  ASSERT_TRUE(s->put_initgroups("corp", "user1", {200000}, now, now + 60000));
  ASSERT_TRUE(s->put_negative("corp", Map::kUserByName, "ghost", now, now + 60000));

  // One key of one provider: by name, positive; the uid key stays.
  auto n = s->erase("corp", model::Query::user_by_name("user1"));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 1u);
  EXPECT_FALSE(s->user_by_name("corp", "user1")->has_value());
  EXPECT_TRUE(s->user_by_uid("corp", 100001)->has_value());
  EXPECT_TRUE(s->user_by_name("other", "user1")->has_value()) << "another provider's record";
  // A negative answer by name (stored under a digest) goes by its name too.
  EXPECT_EQ(*s->erase("corp", model::Query::user_by_name("ghost")), 1u);
  EXPECT_FALSE(s->user_by_name("corp", "ghost")->has_value());
  EXPECT_EQ(*s->erase("corp", model::Query::user_by_uid(100001)), 1u);
  EXPECT_EQ(*s->erase("corp", model::Query::user_by_uid(100001)), 0u) << "nothing left";
  EXPECT_FALSE(s->erase("corp", model::Query::users_page(0, 10)).has_value()) << "pages are never stored";

  // passwd maps of every provider; groups and initgroups stay.
  const Map passwd[] = {Map::kUserByName, Map::kUserByUid};
  auto cleared = s->clear_maps(passwd);
  ASSERT_TRUE(cleared.has_value());
  EXPECT_EQ(*cleared, 2u + 2u + 6u);  // corp users 2 and 3 (name, uid), other's 3 users
  EXPECT_FALSE(s->user_by_name("other", "user2")->has_value());
  EXPECT_FALSE(s->user_by_uid("corp", 100003)->has_value());
  EXPECT_TRUE(s->group_by_gid("corp", 200000)->has_value());
  EXPECT_TRUE(s->initgroups("corp", "user1")->has_value());
  EXPECT_EQ(s->stats().entries, 3u);  // the group twice, the initgroups list
  const Map rest[] = {Map::kGroupByName, Map::kGroupByGid, Map::kInitgroups};
  EXPECT_EQ(*s->clear_maps(rest), 3u);
  EXPECT_EQ(s->stats().entries, 0u);
}

}  // namespace
}  // namespace fastid::store

// ---- StoreWriter: the writes and the sync on a thread of their own ----------

namespace fastid::store {
namespace {

StoreWriter::Write user_write(int i, Millis now) {
  model::User u;
  u.name = "user" + std::to_string(i);
  u.uid = 100000 + static_cast<std::uint32_t>(i);
  u.gid = 200000;
  u.dir = "/home/" + u.name;
  u.shell = "/bin/sh";
  return {"p", model::Query::user_by_name(u.name), model::Answer(u), now, now + 60000};
}

TEST_F(StoreTest, WriterWritesEveryBatchAndWaitIdleSeesThemAll) {
  std::shared_ptr<Store> s = open_store();
  ASSERT_TRUE(s);
  StoreWriter w(s, WriterOptions{});
  const Millis now = now_millis();
  for (int b = 0; b < 20; ++b) {
    StoreWriter::Batch batch;
    for (int i = 0; i < 50; ++i) batch.push_back(user_write(b * 50 + i, now));
    ASSERT_TRUE(w.submit(std::move(batch)));
  }
  StoreWriter::Batch negative;
  negative.push_back({"p", model::Query::user_by_name("nobody-here"), std::nullopt, now, now + 60000});
  ASSERT_TRUE(w.submit(std::move(negative)));
  w.wait_idle();
  for (int i = 0; i < 1000; ++i) {
    auto rec = s->user_by_uid("p", 100000 + static_cast<std::uint32_t>(i));
    ASSERT_TRUE(rec && *rec) << i;
    EXPECT_EQ((*rec)->value.name, "user" + std::to_string(i));
  }
  auto neg = s->get("p", model::Query::user_by_name("nobody-here"));
  ASSERT_TRUE(neg && *neg);
  EXPECT_TRUE((*neg)->negative);
  const auto st = w.stats();
  EXPECT_EQ(st.written, 1001u);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(st.dropped, 0u);
}

TEST_F(StoreTest, WriterRefusesABatchThatDoesNotFitTheQueueAndCountsIt) {
  std::shared_ptr<Store> s = open_store();
  ASSERT_TRUE(s);
  StoreWriter w(s, WriterOptions{.sync_interval = std::chrono::milliseconds(0), .max_queued = 10});
  StoreWriter::Batch big;
  for (int i = 0; i < 11; ++i) big.push_back(user_write(i, now_millis()));
  EXPECT_FALSE(w.submit(std::move(big)));
  w.wait_idle();
  EXPECT_EQ(w.stats().dropped, 11u);
  EXPECT_EQ(w.stats().written, 0u);
  auto rec = s->user_by_uid("p", 100000);
  ASSERT_TRUE(rec);
  EXPECT_FALSE(*rec);
}

TEST_F(StoreTest, WriterStopDrainsTheQueueSyncsAndRefusesAfterwards) {
  std::shared_ptr<Store> s = open_store();
  ASSERT_TRUE(s);
  StoreWriter w(s, WriterOptions{.sync_interval = std::chrono::milliseconds(0)});
  StoreWriter::Batch batch;
  for (int i = 0; i < 100; ++i) batch.push_back(user_write(i, now_millis()));
  ASSERT_TRUE(w.submit(std::move(batch)));
  w.stop();
  EXPECT_EQ(w.stats().written, 100u);
  EXPECT_GE(w.stats().syncs, 1u);  // the sync at stop
  auto rec = s->user_by_uid("p", 100099);
  ASSERT_TRUE(rec && *rec);
  StoreWriter::Batch late;
  late.push_back(user_write(500, now_millis()));
  EXPECT_FALSE(w.submit(std::move(late)));
}

TEST_F(StoreTest, WriterSyncsOnItsOwnTimer) {
  std::shared_ptr<Store> s = open_store();
  ASSERT_TRUE(s);
  StoreWriter w(s, WriterOptions{.sync_interval = std::chrono::milliseconds(20)});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (w.stats().syncs < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(w.stats().syncs, 2u);
}

}  // namespace
}  // namespace fastid::store
