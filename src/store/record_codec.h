// The bytes of one stored record: a fixed header (magic, kind, map, fetch and
// expiry times, and in the stamped form the write's stamp) and the record
// itself as length-prefixed fields. Decoding is
// bounded: every length is checked against what is left, so a damaged value
// decodes to nullopt, never to a read past its end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/records.h"
#include "store/store.h"

namespace fastid::store::codec {

inline constexpr std::uint32_t kMagic = 0x31525346;         // "FSR1" little-endian
inline constexpr std::size_t kHeaderSize = 24;              // magic, kind, map, pad, fetched, expires
inline constexpr std::uint32_t kStampedMagic = 0x32525346;  // "FSR2": the same, then the stamp
inline constexpr std::size_t kStampedHeaderSize = 32;

struct Header {
  bool negative = false;
  Map map = Map::kUserByName;
  Millis fetched = 0;
  Millis expires = 0;
  // The write's stamp (Store::next_stamp: unique per write, never 0), the
  // record's version for whoever keeps something made from it
  // (server/shared_replies.h). 0: none (a header written as "FSR1", by an
  // older fastidd or without a stamp): such a record has no version.
  std::uint64_t stamp = 0;
  // Bytes of the header as encoded (kHeaderSize or kStampedHeaderSize).
  std::size_t size = kHeaderSize;
};

std::string encode_header(const Header& h);
std::optional<Header> decode_header(std::string_view bytes);

std::string encode_user(const Header& h, const model::User& u);
std::string encode_group(const Header& h, const model::Group& g);
std::string encode_gids(const Header& h, const std::vector<std::uint32_t>& gids);
std::string encode_netgroup(const Header& h, const model::Netgroup& ng);
std::string encode_ssh_keys(const Header& h, const model::SshKeys& keys);

// The payload after the header; nullopt when the bytes are not a whole record.
std::optional<model::User> decode_user(std::string_view bytes);
std::optional<model::Group> decode_group(std::string_view bytes);
std::optional<std::vector<std::uint32_t>> decode_gids(std::string_view bytes);
std::optional<model::Netgroup> decode_netgroup(std::string_view bytes);
std::optional<model::SshKeys> decode_ssh_keys(std::string_view bytes);

}  // namespace fastid::store::codec
