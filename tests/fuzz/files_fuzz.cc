// libFuzzer target: the files provider's parsers — passwd(5), group(5),
// shadow(5) and netgroup(5) lines. The input is the four files, separated by
// NUL bytes, written to a private folder; a FilesProvider opens them and is
// asked for the names and ids the files mention (each lookup kind, pages,
// initgroups, netgroups, the account check that reads the shadow file), and
// find_shadow_entry reads the shadow file for each name. Whatever the files
// hold, nothing reads out of bounds, and whatever is served fits the wire
// (the checks a served record must pass: no ':' or newline in a field).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/log.h"
#include "fuzz_files.h"
#include "fuzz_input.h"
#include "providers/files/files_provider.h"
#include "providers/files/shadow.h"

namespace providers = fastid::providers;
namespace model = fastid::model;

namespace {

std::string g_dir;

bool field_ok(const std::string& f) {
  return f.find(':') == std::string::npos && f.find('\n') == std::string::npos && f.find('\0') == std::string::npos;
}

void check_user(const model::User& u) {
  if (u.name.empty() || !field_ok(u.name) || !field_ok(u.gecos) || !field_ok(u.dir) || !field_ok(u.shell))
    std::abort();
}

void check_group(const model::Group& g) {
  if (g.name.empty() || !field_ok(g.name)) std::abort();
  for (const auto& m : g.members) {
    if (m.empty() || !field_ok(m) || m.find(',') != std::string::npos) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fastid::core::set_log_level(fastid::core::LogLevel::kError);
  g_dir = fastid::fuzz::private_folder("files_fuzz");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 256 * 1024) return 0;
  fastid::fuzz::Input in(data, size);
  const std::string_view passwd = in.text_until('\0'), group = in.text_until('\0'),
                         shadow = in.text_until('\0'), netgroup = in.all();
  providers::FilesProvider::Options o;
  o.name = "fuzz";
  o.passwd_path = g_dir + "/passwd";
  o.group_path = g_dir + "/group";
  o.shadow_path = g_dir + "/shadow";
  o.netgroup_path = g_dir + "/netgroup";
  fastid::fuzz::write_file(o.passwd_path, passwd);
  fastid::fuzz::write_file(o.group_path, group);
  fastid::fuzz::write_file(o.shadow_path, shadow, 0600);
  fastid::fuzz::write_file(o.netgroup_path, netgroup);
  providers::FilesProvider p(o);
  if (!p.open()) return 0;
  // The names and numbers the files mention: every line's first and third field.
  std::vector<std::string> names = {"root", "alice"};
  std::vector<std::uint32_t> ids = {0, 1000};
  for (std::string_view text : {passwd, group, shadow, netgroup}) {
    int n = 0;
    for (std::string_view line : fastid::fuzz::lines_of(text)) {
      if (++n > 16) break;
      const std::size_t c1 = line.find_first_of(": \t");
      names.emplace_back(line.substr(0, c1));
      if (c1 == std::string_view::npos) continue;
      const std::size_t c2 = line.find(':', c1 + 1);
      if (c2 == std::string_view::npos) continue;
      std::uint32_t v = 0;
      for (char ch : line.substr(c2 + 1, line.find(':', c2 + 1) - c2 - 1)) v = v * 10 + static_cast<std::uint8_t>(ch - '0');
      ids.push_back(v);
    }
  }
  for (const auto& name : names) {
    if (auto u = p.user_by_name(name)) check_user(*u);
    if (auto g = p.group_by_name(name)) check_group(*g);
    (void)p.initgroups(name);
    (void)p.lookup(model::Query::netgroup(name));
    (void)p.account(name);
    if (auto e = providers::find_shadow_entry(o.shadow_path, name)) (void)providers::shadow_account_verdict(*e, 20000);
  }
  for (auto id : ids) {
    if (auto u = p.user_by_uid(id)) check_user(*u);
    if (auto g = p.group_by_gid(id)) check_group(*g);
  }
  for (std::uint32_t cursor = 0, pages = 0; pages < 64; ++pages) {
    auto page = p.users_page(cursor, 7);
    if (!page) break;
    for (const auto& u : page->records) check_user(u);
    if (!page->more) break;
    cursor = page->next_cursor;
  }
  for (std::uint32_t cursor = 0, pages = 0; pages < 64; ++pages) {
    auto page = p.groups_page(cursor, 7);
    if (!page) break;
    for (const auto& g : page->records) check_group(g);
    if (!page->more) break;
    cursor = page->next_cursor;
  }
  return 0;
}
