// What the script-driven server fixtures share (slapd_fixture.h, kdc_fixture.h):
// a private temporary folder, a fixture script called as `SCRIPT VERB DIR ...`
// whose stderr becomes error() when it fails, and the KEY=VALUE `env` file the
// script writes into the folder to say where its server listens. The server
// is killed and the folder removed when the fixture is destroyed.
//
// Not thread-safe.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <utility>

namespace fastid::testing {

class ScriptedServer {
 public:
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  bool started() const { return started_; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

  bool stop() { return command(script_ + " stop " + dir_); }
  bool kill() { return command(script_ + " kill " + dir_); }
  // Same ports, same data.
  bool restart() { return command(script_ + " restart " + dir_) && read_env(); }

  // One value of the script's env file ("" when absent).
  std::string env(const std::string& key) const {
    auto it = env_.find(key);
    return it == env_.end() ? std::string() : it->second;
  }

 protected:
  // `script`: the fixture script's path; `dir_template`: mkdtemp's pattern.
  ScriptedServer(std::string script, std::string dir_template) : script_(std::move(script)) {
    if (const char* made = ::mkdtemp(dir_template.data()); made != nullptr) {
      dir_ = made;
    } else {
      error_ = "mkdtemp failed";
    }
  }
  ~ScriptedServer() {
    if (!dir_.empty()) {
      command(script_ + " kill " + dir_);
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // `SCRIPT start DIR <args>`, then the env file it wrote.
  void start(const std::string& args) {
    if (!dir_.empty()) started_ = command(script_ + " start " + dir_ + args) && read_env();
  }

  // One shell command; false with its stderr in error() when it fails.
  bool command(const std::string& cmd) {
    const std::string err = dir_ + ".err";
    const int rc = std::system((cmd + " 2>" + err).c_str());
    std::stringstream text;
    text << std::ifstream(err).rdbuf();
    std::error_code ec;
    std::filesystem::remove(err, ec);
    if (rc != 0) {
      error_ = cmd + ": exit " + std::to_string(rc) + ": " + text.str();
      return false;
    }
    return true;
  }

  const std::string& script() const { return script_; }

 private:
  bool read_env() {
    std::ifstream in(dir_ + "/env");
    if (!in) {
      error_ = dir_ + "/env: missing";
      return false;
    }
    env_.clear();
    for (std::string line; std::getline(in, line);) {
      auto eq = line.find('=');
      if (eq != std::string::npos) env_[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return true;
  }

  std::string script_;
  std::string dir_;
  std::string error_;
  bool started_ = false;
  std::map<std::string, std::string> env_;
};

}  // namespace fastid::testing
