// walk_nesting (src/providers/ldap/ldap_membership.h) without a directory:
// levels are shortest distances, each group is visited once, the depth limit
// holds, errors stop the walk — and on random nesting graphs with cycles,
// "members of g" walked down and "groups of u" walked up agree for every
// pair and equal a brute-force reference (all-pairs shortest distances).
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "providers/ldap/ldap_membership.h"

namespace fastid::providers::ldap {
namespace {

// Groups 0..n-1 ("g<i>"); child[i]: groups nested in group i; direct[u]: the
// groups user u is listed in.
struct Graph {
  int groups = 0;
  std::vector<std::vector<int>> child;
  std::vector<std::vector<int>> direct;
};

NestNode node(int g) { return {"g" + std::to_string(g), "cn=G" + std::to_string(g) + ",ou=groups"}; }
int index_of(const NestNode& n) { return std::stoi(n.key.substr(1)); }

// Members of g: direct members of the groups reached going down.
std::set<int> members_of(const Graph& gr, int g, int depth) {
  std::set<int> out;
  std::set<std::string> seen;
  auto st = walk_nesting({node(g)}, depth, seen,
                         [&](int, const std::vector<NestNode>& nodes, bool last,
                             const std::set<std::string>&) -> core::Result<std::vector<NestNode>> {
                           std::vector<NestNode> next;
                           for (const auto& n : nodes) {
                             const int i = index_of(n);
                             for (std::size_t u = 0; u < gr.direct.size(); ++u) {
                               for (int d : gr.direct[u]) {
                                 if (d == i) out.insert(static_cast<int>(u));
                               }
                             }
                             if (!last) {
                               for (int c : gr.child[static_cast<std::size_t>(i)]) next.push_back(node(c));
                             }
                           }
                           return next;
                         });
  EXPECT_TRUE(st.ok());
  return out;
}

// Groups of u: its direct groups and the groups reached going up.
std::set<int> groups_of(const Graph& gr, int u, int depth) {
  std::set<int> out;
  std::set<std::string> seen = {"user"};
  std::vector<NestNode> start;
  for (int d : gr.direct[static_cast<std::size_t>(u)]) start.push_back(node(d));
  auto st = walk_nesting(std::move(start), depth, seen,
                         [&](int, const std::vector<NestNode>& nodes, bool last,
                             const std::set<std::string>&) -> core::Result<std::vector<NestNode>> {
                           std::vector<NestNode> next;
                           for (const auto& n : nodes) {
                             out.insert(index_of(n));
                             if (last) continue;
                             for (int p = 0; p < gr.groups; ++p) {
                               for (int c : gr.child[static_cast<std::size_t>(p)]) {
                                 if (c == index_of(n)) next.push_back(node(p));
                               }
                             }
                           }
                           return next;
                         });
  EXPECT_TRUE(st.ok());
  return out;
}

TEST(WalkNesting, LevelsAreShortestDistancesAndEachNodeComesOnce) {
  // 0 -> 1 -> 2 -> 3 -> 0 (a cycle) and the shortcut 0 -> 2.
  Graph gr{4, {{1, 2}, {2}, {3}, {0}}, {}};
  std::map<std::string, int> level_of;
  std::vector<int> asked_last;
  std::set<std::string> seen;
  auto st = walk_nesting({node(0)}, 10, seen,
                         [&](int level, const std::vector<NestNode>& nodes, bool last,
                             const std::set<std::string>&) -> core::Result<std::vector<NestNode>> {
                           std::vector<NestNode> next;
                           for (const auto& n : nodes) {
                             EXPECT_TRUE(level_of.emplace(n.key, level).second) << n.key << " twice";
                             for (int c : gr.child[static_cast<std::size_t>(index_of(n))]) next.push_back(node(c));
                           }
                           if (last) asked_last.push_back(level);
                           return next;
                         });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(level_of, (std::map<std::string, int>{{"g0", 0}, {"g1", 1}, {"g2", 1}, {"g3", 2}}));
  EXPECT_TRUE(asked_last.empty());  // the cycle closed before depth 10
  EXPECT_EQ(seen, (std::set<std::string>{"g0", "g1", "g2", "g3"}));
}

TEST(WalkNesting, StopsAtTheDepthAndSaysWhichLevelIsLast) {
  std::vector<std::pair<int, bool>> calls;
  std::set<std::string> seen;
  auto st = walk_nesting({node(0)}, 2, seen,
                         [&](int level, const std::vector<NestNode>&, bool last,
                             const std::set<std::string>&) -> core::Result<std::vector<NestNode>> {
                           calls.emplace_back(level, last);
                           return std::vector<NestNode>{node(level + 1)};  // an endless chain
                         });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(calls, (std::vector<std::pair<int, bool>>{{0, false}, {1, false}, {2, true}}));
  // Depth 0 (rfc2307: no nesting): the start only, as the last level.
  calls.clear();
  seen.clear();
  ASSERT_TRUE(walk_nesting({node(0)}, 0, seen,
                           [&](int level, const std::vector<NestNode>&, bool last,
                               const std::set<std::string>&) -> core::Result<std::vector<NestNode>> {
                             calls.emplace_back(level, last);
                             return std::vector<NestNode>{node(9)};
                           })
                  .ok());
  EXPECT_EQ(calls, (std::vector<std::pair<int, bool>>{{0, true}}));
}

TEST(WalkNesting, SeenNodesAreNeverVisitedAndAnErrorStopsTheWalk) {
  std::set<std::string> seen = {"g1"};
  int calls = 0;
  auto st = walk_nesting({node(1), node(2), node(2)}, 4, seen,
                         [&](int, const std::vector<NestNode>& nodes, bool,
                             const std::set<std::string>&) -> core::Result<std::vector<NestNode>> {
                           ++calls;
                           EXPECT_EQ(nodes.size(), 1u);
                           EXPECT_EQ(nodes.front().key, "g2");
                           return core::error(core::Status::unavailable("ldap: search failed"));
                         });
  EXPECT_EQ(st.code(), core::Code::kUnavailable);
  EXPECT_EQ(st.message(), "ldap: search failed");
  EXPECT_EQ(calls, 1);
  // Nothing to start from: the step is not called.
  seen.clear();
  EXPECT_TRUE(walk_nesting({}, 4, seen,
                           [&](int, const std::vector<NestNode>&, bool,
                               const std::set<std::string>&) -> core::Result<std::vector<NestNode>> {
                             ADD_FAILURE() << "called";
                             return std::vector<NestNode>{};
                           })
                  .ok());
}

TEST(WalkNesting, MembersAndGroupsAgreeOnRandomGraphsWithCycles) {
  std::mt19937 rng(16);
  long pairs = 0, members_listed = 0;
  for (int round = 0; round < 40; ++round) {
    Graph gr;
    gr.groups = 4 + static_cast<int>(rng() % 20);
    gr.child.resize(static_cast<std::size_t>(gr.groups));
    for (int g = 0; g < gr.groups; ++g) {
      const int edges = static_cast<int>(rng() % 3);
      for (int e = 0; e < edges; ++e) gr.child[static_cast<std::size_t>(g)].push_back(static_cast<int>(rng() % gr.groups));
    }
    gr.direct.resize(1 + rng() % 15);
    for (auto& d : gr.direct) {
      const int n = static_cast<int>(rng() % 3);
      for (int k = 0; k < n; ++k) d.push_back(static_cast<int>(rng() % gr.groups));
    }
    // Reference: dist[a][b] = fewest nesting steps from a down to b.
    const int inf = 1 << 20;
    std::vector<std::vector<int>> dist(static_cast<std::size_t>(gr.groups),
                                       std::vector<int>(static_cast<std::size_t>(gr.groups), inf));
    for (int a = 0; a < gr.groups; ++a) {
      dist[static_cast<std::size_t>(a)][static_cast<std::size_t>(a)] = 0;
      for (int b : gr.child[static_cast<std::size_t>(a)]) {
        if (b != a) dist[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)] = 1;
      }
    }
    for (int k = 0; k < gr.groups; ++k)
      for (int a = 0; a < gr.groups; ++a)
        for (int b = 0; b < gr.groups; ++b) {
          auto& ab = dist[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)];
          ab = std::min(ab, dist[static_cast<std::size_t>(a)][static_cast<std::size_t>(k)] +
                                dist[static_cast<std::size_t>(k)][static_cast<std::size_t>(b)]);
        }
    for (int depth : {0, 1, 2, 4}) {
      std::vector<std::set<int>> groups(gr.direct.size());
      for (std::size_t u = 0; u < gr.direct.size(); ++u) groups[u] = groups_of(gr, static_cast<int>(u), depth);
      for (int g = 0; g < gr.groups; ++g) {
        const std::set<int> members = members_of(gr, g, depth);
        members_listed += static_cast<long>(members.size());
        for (std::size_t u = 0; u < gr.direct.size(); ++u) {
          bool reference = false;
          for (int d : gr.direct[u]) {
            reference |= dist[static_cast<std::size_t>(g)][static_cast<std::size_t>(d)] <= depth;
          }
          ASSERT_EQ(members.contains(static_cast<int>(u)), groups[u].contains(g))
              << "round " << round << " depth " << depth << " user " << u << " group " << g;
          ASSERT_EQ(members.contains(static_cast<int>(u)), reference)
              << "round " << round << " depth " << depth << " user " << u << " group " << g;
          ++pairs;
        }
      }
    }
  }
  EXPECT_GT(pairs, 1000);
  EXPECT_GT(members_listed, 100);  // the graphs are not trivially empty
}

}  // namespace
}  // namespace fastid::providers::ldap
