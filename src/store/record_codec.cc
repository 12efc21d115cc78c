#include "store/record_codec.h"

#include <cstring>

namespace fastid::store::codec {
namespace {

// Records are read back by the same build on the same host, but a file may be
// older or damaged: fixed little-endian layout, every field bounded.
class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void i64(std::int64_t v) {
    auto u = static_cast<std::uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((u >> (8 * i)) & 0xff));
  }
  void str(std::string_view s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t* v) {
    if (in_.size() < 1) return false;
    *v = static_cast<std::uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool u32(std::uint32_t* v) {
    if (in_.size() < 4) return false;
    std::uint32_t r = 0;
    for (int i = 0; i < 4; ++i) r |= std::uint32_t{static_cast<std::uint8_t>(in_[i])} << (8 * i);
    *v = r;
    in_.remove_prefix(4);
    return true;
  }
  bool i64(std::int64_t* v) {
    if (in_.size() < 8) return false;
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i) r |= std::uint64_t{static_cast<std::uint8_t>(in_[i])} << (8 * i);
    *v = static_cast<std::int64_t>(r);
    in_.remove_prefix(8);
    return true;
  }
  bool str(std::string* s) {
    std::uint32_t n = 0;
    if (!u32(&n) || n > in_.size()) return false;
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  std::size_t left() const { return in_.size(); }

 private:
  std::string_view in_;
};

void header_into(Writer& w, const Header& h) {
  w.u32(h.stamp != 0 ? kStampedMagic : kMagic);
  w.u8(h.negative ? 1 : 0);
  w.u8(static_cast<std::uint8_t>(h.map));
  w.u8(0);
  w.u8(0);
  w.i64(h.fetched);
  w.i64(h.expires);
  if (h.stamp != 0) w.i64(static_cast<std::int64_t>(h.stamp));
}

// The record's fields after its header (either form); nullopt: no header.
std::optional<std::string_view> body_of(std::string_view bytes) {
  std::optional<Header> h = decode_header(bytes);
  if (!h) return std::nullopt;
  return bytes.substr(h->size);
}

}  // namespace

std::string encode_header(const Header& h) {
  Writer w;
  header_into(w, h);
  return w.take();
}

std::optional<Header> decode_header(std::string_view bytes) {
  Reader r(bytes);
  std::uint32_t magic = 0;
  std::uint8_t kind = 0, map = 0, pad = 0;
  Header h;
  if (!r.u32(&magic) || (magic != kMagic && magic != kStampedMagic)) return std::nullopt;
  if (!r.u8(&kind) || kind > 1 || !r.u8(&map) || map < 1 || map > kLastMap) return std::nullopt;
  if (!r.u8(&pad) || !r.u8(&pad) || !r.i64(&h.fetched) || !r.i64(&h.expires)) return std::nullopt;
  if (magic == kStampedMagic) {
    std::int64_t stamp = 0;
    if (!r.i64(&stamp) || stamp == 0) return std::nullopt;
    h.stamp = static_cast<std::uint64_t>(stamp);
    h.size = kStampedHeaderSize;
  }
  h.negative = kind == 1;
  h.map = static_cast<Map>(map);
  return h;
}

std::string encode_user(const Header& h, const model::User& u) {
  Writer w;
  header_into(w, h);
  w.str(u.name);
  w.str(u.passwd);
  w.u32(u.uid);
  w.u32(u.gid);
  w.str(u.gecos);
  w.str(u.dir);
  w.str(u.shell);
  return w.take();
}

std::string encode_group(const Header& h, const model::Group& g) {
  Writer w;
  header_into(w, h);
  w.str(g.name);
  w.str(g.passwd);
  w.u32(g.gid);
  w.u32(static_cast<std::uint32_t>(g.members.size()));
  for (const auto& m : g.members) w.str(m);
  return w.take();
}

std::string encode_gids(const Header& h, const std::vector<std::uint32_t>& gids) {
  Writer w;
  header_into(w, h);
  w.u32(static_cast<std::uint32_t>(gids.size()));
  for (auto g : gids) w.u32(g);
  return w.take();
}

std::string encode_netgroup(const Header& h, const model::Netgroup& ng) {
  Writer w;
  header_into(w, h);
  w.str(ng.name);
  w.u32(static_cast<std::uint32_t>(ng.triples.size()));
  for (const auto& t : ng.triples) {
    w.str(t.host);
    w.str(t.user);
    w.str(t.domain);
  }
  w.u32(static_cast<std::uint32_t>(ng.unresolved.size()));
  for (const auto& n : ng.unresolved) w.str(n);
  return w.take();
}

std::string encode_ssh_keys(const Header& h, const model::SshKeys& k) {
  Writer w;
  header_into(w, h);
  w.str(k.user);
  w.u32(static_cast<std::uint32_t>(k.keys.size()));
  for (const auto& key : k.keys) w.str(key);
  return w.take();
}

std::optional<model::User> decode_user(std::string_view bytes) {
  const std::optional<std::string_view> body = body_of(bytes);
  if (!body) return std::nullopt;
  Reader r(*body);
  model::User u;
  if (!r.str(&u.name) || !r.str(&u.passwd) || !r.u32(&u.uid) || !r.u32(&u.gid) ||
      !r.str(&u.gecos) || !r.str(&u.dir) || !r.str(&u.shell) || r.left() != 0) {
    return std::nullopt;
  }
  return u;
}

std::optional<model::Group> decode_group(std::string_view bytes) {
  const std::optional<std::string_view> body = body_of(bytes);
  if (!body) return std::nullopt;
  Reader r(*body);
  model::Group g;
  std::uint32_t n = 0;
  if (!r.str(&g.name) || !r.str(&g.passwd) || !r.u32(&g.gid) || !r.u32(&n)) return std::nullopt;
  // Each member takes at least its 4-byte length: a count past that is damage.
  if (n > r.left() / 4) return std::nullopt;
  g.members.resize(n);
  for (auto& m : g.members) {
    if (!r.str(&m)) return std::nullopt;
  }
  if (r.left() != 0) return std::nullopt;
  return g;
}

std::optional<std::vector<std::uint32_t>> decode_gids(std::string_view bytes) {
  const std::optional<std::string_view> body = body_of(bytes);
  if (!body) return std::nullopt;
  Reader r(*body);
  std::uint32_t n = 0;
  if (!r.u32(&n) || n != r.left() / 4 || r.left() % 4 != 0) return std::nullopt;
  std::vector<std::uint32_t> gids(n);
  for (auto& g : gids) r.u32(&g);
  return gids;
}

std::optional<model::Netgroup> decode_netgroup(std::string_view bytes) {
  const std::optional<std::string_view> body = body_of(bytes);
  if (!body) return std::nullopt;
  Reader r(*body);
  model::Netgroup ng;
  std::uint32_t n = 0;
  // A triple takes at least three 4-byte lengths, a name one.
  if (!r.str(&ng.name) || !r.u32(&n) || n > r.left() / 12) return std::nullopt;
  ng.triples.resize(n);
  for (auto& t : ng.triples) {
    if (!r.str(&t.host) || !r.str(&t.user) || !r.str(&t.domain)) return std::nullopt;
  }
  if (!r.u32(&n) || n > r.left() / 4) return std::nullopt;
  ng.unresolved.resize(n);
  for (auto& name : ng.unresolved) {
    if (!r.str(&name)) return std::nullopt;
  }
  if (r.left() != 0) return std::nullopt;
  return ng;
}

std::optional<model::SshKeys> decode_ssh_keys(std::string_view bytes) {
  const std::optional<std::string_view> body = body_of(bytes);
  if (!body) return std::nullopt;
  Reader r(*body);
  model::SshKeys k;
  std::uint32_t n = 0;
  if (!r.str(&k.user) || !r.u32(&n) || n > r.left() / 4) return std::nullopt;
  k.keys.resize(n);
  for (auto& key : k.keys) {
    if (!r.str(&key)) return std::nullopt;
  }
  if (r.left() != 0) return std::nullopt;
  return k;
}

}  // namespace fastid::store::codec
