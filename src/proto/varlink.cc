// Varlink messages of the systemd userdb front (varlink.h), on nlohmann/json:
// the only file that includes it. Parsing never throws (parse(..., false));
// values are read only after their type is checked; dumping replaces bytes
// that are not UTF-8 instead of throwing (a directory's gecos may hold any).
#include "proto/varlink.h"

#include <nlohmann/json.hpp>

namespace fastid::proto::varlink {
namespace {

using Json = nlohmann::json;

// Nesting of arrays and objects outside strings, stopping as soon as it
// passes the limit: a bound checked before the parser sees the message.
bool nested_too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

CallError fatal(std::string reason) { return CallError{true, {}, {}, {}, std::move(reason)}; }
CallError invalid_parameter(std::string name, std::string reason) {
  return CallError{false, std::string(kInvalidParameter), "parameter", std::move(name), std::move(reason)};
}

constexpr std::string_view kDispositionNames[] = {"intrinsic", "system", "dynamic", "regular"};
// Known to systemd, never ours: accepted in a mask, matching nothing here.
constexpr std::string_view kOtherDispositions[] = {"container", "reserved", "foreign"};

struct Parameters {
  const Json& object;
  Checked<std::optional<std::string>> string(const char* key) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return std::optional<std::string>();
    if (!it->is_string()) return invalid_parameter(key, "not a string");
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > kMaxName || s.find('\0') != std::string::npos) {
      return invalid_parameter(key, "empty, longer than 256 bytes or holding a NUL");
    }
    return std::optional<std::string>(s);
  }
  // uid_t/gid_t as systemd takes them: 0 to 2^32-2 ((uid_t)-1 is "none").
  Checked<std::optional<std::uint32_t>> id(const char* key) const {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return std::optional<std::uint32_t>();
    if (!it->is_number_integer()) return invalid_parameter(key, "not an integer");
    if (it->is_number_unsigned()) {
      const auto v = it->get<std::uint64_t>();
      if (v < UINT32_MAX) return std::optional<std::uint32_t>(static_cast<std::uint32_t>(v));
    }
    return invalid_parameter(key, "out of range for a uid or gid");
  }
};

// The error of the first parameter that is wrong; nullopt: all are right.
std::optional<CallError> read_userdb_parameters(const Json& params, Call& call) {
  const char* name_key = call.method == Method::kGetGroupRecord ? "groupName" : "userName";
  const char* id_key = call.method == Method::kGetUserRecord ? "uid" : call.method == Method::kGetGroupRecord ? "gid" : nullptr;
  const char* min_key = call.method == Method::kGetGroupRecord ? "gidMin" : "uidMin";
  const char* max_key = call.method == Method::kGetGroupRecord ? "gidMax" : "uidMax";
  for (const auto& [key, value] : params.items()) {
    const bool known = key == name_key || key == "service" || (id_key != nullptr && key == id_key) ||
                       (call.method == Method::kGetMemberships && key == "groupName") ||
                       (id_key != nullptr && (key == min_key || key == max_key || key == "dispositionMask"));
    if (!known) return invalid_parameter(key, "not a parameter of this method");
  }
  const Parameters p{params};
  auto name = p.string(name_key);
  if (!name) return name.error();
  call.name = std::move(*name);
  auto service = p.string("service");
  if (!service) return service.error();
  call.service = std::move(*service);
  if (call.method == Method::kGetMemberships) {
    auto group = p.string("groupName");
    if (!group) return group.error();
    call.other_name = std::move(*group);
    return std::nullopt;
  }
  auto id = p.id(id_key);
  if (!id) return id.error();
  call.id = *id;
  auto lo = p.id(min_key);
  if (!lo) return lo.error();
  auto hi = p.id(max_key);
  if (!hi) return hi.error();
  if (*lo) call.id_min = **lo;
  if (*hi) call.id_max = **hi;
  if (auto it = params.find("dispositionMask"); it != params.end() && !it->is_null()) {
    if (!it->is_array()) return invalid_parameter("dispositionMask", "not an array");
    call.disposition_mask = 0;
    for (const Json& d : *it) {
      if (!d.is_string()) return invalid_parameter("dispositionMask", "not an array of strings");
      const auto& s = d.get_ref<const std::string&>();
      bool found = false;
      for (std::size_t i = 0; i < std::size(kDispositionNames); ++i) {
        if (s == kDispositionNames[i]) {
          call.disposition_mask = static_cast<std::uint8_t>(call.disposition_mask | (1u << i));
          found = true;
        }
      }
      for (std::string_view other : kOtherDispositions) found = found || s == other;
      if (!found) return invalid_parameter("dispositionMask", "unknown disposition");
    }
  }
  return {};
}

std::string envelope(const Json& parameters, bool continues) {
  Json message = {{"parameters", parameters}};
  if (continues) message["continues"] = true;
  std::string out = message.dump(-1, ' ', false, Json::error_handler_t::replace);
  out.push_back('\0');
  return out;
}

}  // namespace

std::string_view disposition_name(Disposition d) { return kDispositionNames[static_cast<std::size_t>(d)]; }

// systemd's ranges: 0 and nobody are intrinsic, 1-999 system users, 61184-65519
// dynamic users (DynamicUser=); everything else here is regular.
Disposition disposition_of_id(std::uint32_t id) {
  if (id == 0 || id == 65534) return Disposition::kIntrinsic;
  if (id < 1000) return Disposition::kSystem;
  if (id >= 61184 && id <= 65519) return Disposition::kDynamic;
  return Disposition::kRegular;
}

bool Call::admits(std::uint32_t record_id) const {
  const unsigned bit = 1u << static_cast<unsigned>(disposition_of_id(record_id));
  return record_id >= id_min && record_id <= id_max && (disposition_mask & bit) != 0;
}

Checked<Call> decode_call(std::string_view message) {
  if (message.size() > kMaxMessage) return fatal("message longer than 16 KiB");
  if (nested_too_deep(message)) return fatal("nested deeper than 8 levels");
  const Json root = Json::parse(message.begin(), message.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return fatal("not JSON (or not UTF-8)");
  if (!root.is_object()) return fatal("not a JSON object");
  auto method = root.find("method");
  if (method == root.end() || !method->is_string()) return fatal("no method");
  Call call;
  for (const char* flag : {"more", "oneway"}) {
    auto it = root.find(flag);
    if (it == root.end() || it->is_null()) continue;
    if (!it->is_boolean()) return fatal(std::string(flag) + " is not a boolean");
    (std::string_view(flag) == "more" ? call.more : call.oneway) = it->get<bool>();
  }
  if (auto it = root.find("upgrade"); it != root.end() && it->is_boolean() && it->get<bool>()) {
    return fatal("connection upgrades are not supported");
  }
  static const Json kNoParameters = Json::object();
  const Json* params = &kNoParameters;
  if (auto it = root.find("parameters"); it != root.end() && !it->is_null()) {
    if (!it->is_object()) return fatal("parameters is not an object");
    params = &*it;
  }
  const std::string& name = method->get_ref<const std::string&>();
  if (name == "io.systemd.UserDatabase.GetUserRecord") {
    call.method = Method::kGetUserRecord;
  } else if (name == "io.systemd.UserDatabase.GetGroupRecord") {
    call.method = Method::kGetGroupRecord;
  } else if (name == "io.systemd.UserDatabase.GetMemberships") {
    call.method = Method::kGetMemberships;
  } else if (name == "org.varlink.service.GetInfo") {
    call.method = Method::kGetInfo;
    return call;
  } else if (name == "org.varlink.service.GetInterfaceDescription") {
    call.method = Method::kGetInterfaceDescription;
    auto it = params->find("interface");
    if (it == params->end() || !it->is_string()) {
      return invalid_parameter("interface", "missing or not a string");
    }
    call.interface = it->get<std::string>();
    if (call.interface != kInterface) {
      return CallError{false, std::string(kInterfaceNotFound), "interface", call.interface.substr(0, kMaxName),
                                       "not an interface of this service"};
    }
    return call;
  } else {
    return CallError{false, std::string(kMethodNotFound), "method", name.substr(0, kMaxName),
                                     "unknown method"};
  }
  if (auto e = read_userdb_parameters(*params, call)) return *e;
  return call;
}

std::string user_reply(const model::User& u, std::string_view service, bool continues) {
  Json record = {{"userName", u.name},
                 {"uid", u.uid},
                 {"gid", u.gid},
                 {"disposition", disposition_name(disposition_of_id(u.uid))},
                 {"service", service}};
  if (!u.gecos.empty()) record["realName"] = u.gecos;
  if (!u.dir.empty()) record["homeDirectory"] = u.dir;
  if (!u.shell.empty()) record["shell"] = u.shell;
  return envelope({{"record", std::move(record)}, {"incomplete", false}}, continues);
}

std::string group_reply(const model::Group& g, std::string_view service, bool continues) {
  Json record = {{"groupName", g.name},
                 {"gid", g.gid},
                 {"disposition", disposition_name(disposition_of_id(g.gid))},
                 {"service", service}};
  if (!g.members.empty()) record["members"] = g.members;
  return envelope({{"record", std::move(record)}, {"incomplete", false}}, continues);
}

std::string membership_reply(std::string_view user, std::string_view group, bool continues) {
  return envelope({{"userName", user}, {"groupName", group}}, continues);
}

std::string error_reply(std::string_view error, std::string_view key, std::string_view value) {
  Json parameters = Json::object();
  if (!key.empty()) parameters[std::string(key)] = value;
  Json message = {{"error", error}, {"parameters", std::move(parameters)}};
  std::string out = message.dump(-1, ' ', false, Json::error_handler_t::replace);
  out.push_back('\0');
  return out;
}

std::string info_reply(std::string_view version) {
  return envelope({{"vendor", "fastid"},
                   {"product", "fastidd"},
                   {"version", version},
                   {"url", ""},
                   {"interfaces", {"io.systemd.UserDatabase", "org.varlink.service"}}},
                  false);
}

std::string interface_description_reply() {
  static constexpr std::string_view kDescription =
      "interface io.systemd.UserDatabase\n"
      "\n"
      "method GetUserRecord(uid : ?int, userName : ?string, service : string,"
      " uidMin : ?int, uidMax : ?int, dispositionMask : ?[]string)"
      " -> (record : object, incomplete : bool)\n"
      "method GetGroupRecord(gid : ?int, groupName : ?string, service : string,"
      " gidMin : ?int, gidMax : ?int, dispositionMask : ?[]string)"
      " -> (record : object, incomplete : bool)\n"
      "method GetMemberships(userName : ?string, groupName : ?string, service : string)"
      " -> (userName : string, groupName : string)\n"
      "\n"
      "error NoRecordFound()\n"
      "error BadService()\n"
      "error ServiceNotAvailable()\n"
      "error ConflictingRecordFound()\n"
      "error NonMatchingRecordFound()\n"
      "error EnumerationNotSupported()\n";
  return envelope({{"description", kDescription}}, false);
}

}  // namespace fastid::proto::varlink
