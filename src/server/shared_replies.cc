// SharedReplies: large lookup payloads shared between requests (shared_replies.h).
#include "server/shared_replies.h"

#include <algorithm>

namespace fastid::server {

bool SharedReplies::keep(const model::Query& query, Version version, std::shared_ptr<const proto::Bytes> payload) {
  if (!payload || payload->size() < options_.min_payload || payload->size() > options_.max_bytes) return false;
  // One entry per query: at most one is there.
  auto same = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.query == query; });
  if (same != entries_.end()) drop(*same);
  // Room: the least recently used go first.
  while (!entries_.empty() &&
         (entries_.size() >= options_.max_entries || bytes_ + payload->size() > options_.max_bytes)) {
    auto oldest = std::min_element(entries_.begin(), entries_.end(),
                                   [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
    drop(*oldest);
  }
  bytes_ += payload->size();
  ++kept_;
  entries_.push_back(Entry{query, std::move(version), std::move(payload), ++clock_});
  return true;
}

void SharedReplies::drop(Entry& e) {
  bytes_ -= e.payload->size();
  // Replies still being written keep their own reference to the payload.
  if (&e != &entries_.back()) e = std::move(entries_.back());
  entries_.pop_back();
}

bool SharedReplies::known_large(const model::Query& query) const {
  return std::find(large_.begin(), large_.end(), query) != large_.end();
}

void SharedReplies::note_large(const model::Query& query) {
  auto it = std::find(large_.begin(), large_.end(), query);
  if (it != large_.end()) large_.erase(it);
  if (large_.size() >= kMaxLargeQueries) large_.erase(large_.begin());
  large_.push_back(query);
}

void SharedReplies::clear() {
  entries_.clear();
  bytes_ = 0;
}

std::vector<std::pair<std::string, std::string>> SharedReplies::status_items() const {
  return {{"shared_replies.entries", std::to_string(entries_.size())},
          {"shared_replies.bytes", std::to_string(bytes_)},
          {"shared_replies.kept", std::to_string(kept_)},
          {"shared_replies.hits", std::to_string(hits_)}};
}

}  // namespace fastid::server
