// PrometheusText: a writer of Prometheus' text exposition format (version
// 0.0.4): one `# HELP` and `# TYPE` line per family, then its samples, label
// values escaped (backslash, double quote, newline) so that any name a
// configuration holds — a provider's, a map's — keeps the document parseable.
// Metric and label names are the caller's constants, checked in debug builds.
// No Asio; pure.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace fastid::server {

using Label = std::pair<std::string_view, std::string_view>;

class PrometheusText {
 public:
  // Starts a family: `type` is "counter", "gauge" or "histogram".
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample `name{labels} value`; `name` is the family's, or the family's
  // with _bucket/_sum/_count for a histogram.
  void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  // A label value as it goes between the quotes; exposed for tests.
  static std::string escape_label_value(std::string_view value);

 private:
  void head(std::string_view name, std::initializer_list<Label> labels);
  std::string out_;
};

// The Content-Type of the text format.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace fastid::server
