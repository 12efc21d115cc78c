// WrappingProvider: the base of the providers that wrap another one
// (CheckedProvider, HomeShellProvider, Krb5AuthProvider, UnopenedProvider).
// The calls a wrapper leaves alone go to the wrapped provider, so that each
// wrapper states only what it changes; lookups and the PAM calls are always
// the wrapper's own.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "providers/provider.h"

namespace fastid::providers {

class WrappingProvider : public Provider {
 public:
  explicit WrappingProvider(std::unique_ptr<Provider> inner) : inner_(std::move(inner)) {}

  const std::string& name() const override { return inner_->name(); }
  Status open() override { return inner_->open(); }
  void close() override { inner_->close(); }
  Status refresh() override { return inner_->refresh(); }
  bool names_entry(std::string_view asked, std::string_view answered) const override {
    return inner_->names_entry(asked, answered);
  }
  std::uint64_t data_generation() const override { return inner_->data_generation(); }

 protected:
  std::unique_ptr<Provider> inner_;
};

}  // namespace fastid::providers
