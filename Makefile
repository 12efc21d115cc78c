# fastid — the two commands of the README, and a few more.
#   make demo    install dependencies, build, start fastidd on this host's
#                /etc/passwd and /etc/group, and show lookups through glibc
#   make test    install dependencies, build (plain, ASan+UBSan, TSan) and run every test
#   make bench   build and run the benchmarks (docs/benchmarks.md)
#   make fuzz    every libFuzzer target of tests/fuzz for FUZZ_SECONDS each (default 60)
#   make install install the build (prefix /usr/local unless CMAKE_FLAGS says
#                -DCMAKE_INSTALL_PREFIX=...; DESTDIR honoured)
#   make package-test  build the Debian packages, install them in a throw-away
#                root, use them through glibc and PAM, purge them (minutes)
#   make soak    DURATION (default 30m) of mixed lookups, authentications,
#                invalidations, slapd restarts and worker kills; prints the
#                figures over time and a verdict (tests/soak/run-soak; not in CI)
#   make valgrind  a set of system tests with fastidd and the clients under
#                valgrind memcheck (tests/valgrind/run-valgrind; not in CI)
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan build-tsan test demo demo-stop bench fuzz clean install package-test soak valgrind

all: build

deps:
	@if [ "$$(id -u)" -eq 0 ]; then scripts/install-deps; \
	 else scripts/install-deps || { echo "make: run 'sudo scripts/install-deps' once, then make again" >&2; exit 1; }; fi

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTID_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j$(JOBS)

build-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFASTID_SANITIZE=address,undefined -DFASTID_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build-asan -j$(JOBS)

# TSan is for the concurrent pieces: the core (and later the pool and the fast
# cache). Only the targets labelled "tsan" are built.
build-tsan: deps
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTID_SANITIZE=thread -DFASTID_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build-tsan -j$(JOBS) --target tsan_tests

test: build build-asan build-tsan
	scripts/run-tests

demo: build
	scripts/demo

demo-stop:
	scripts/demo stop

# Every benchmark of docs/benchmarks.md, each against its baseline in the same run.
bench: build
	bench/run-nss-bench
	bench/run-workers-bench
	bench/run-store-bench
	bench/run-ldap-bench
	bench/run-id-bench
	bench/run-pam-bench
	bench/run-nscd-bench
	bench/run-varlink-bench
	bench/run-winbind-bench

# libFuzzer (clang-16, ASan + UBSan) on every parser of untrusted bytes, FUZZ_SECONDS
# each, two at a time (FUZZ_JOBS); docs/reliability.md lists the targets.
FUZZ_SECONDS ?= 60
fuzz: deps
	tests/fuzz/run-fuzz $(FUZZ_SECONDS)

install: build
	cmake --install build

package-test:
	scripts/install-deps packaging
	tests/packaging/package-test

# Only what each needs is built: the daemon, the CLI, the modules, the glibc
# load program (soak) and the system tests run under memcheck with the
# program of run-valgrind's self-test (valgrind).
SOAK_TARGETS = fastidd fastid_cli fastid-provider-worker nss_fastid pam_fastid nss_stress
VALGRIND_TESTS = memcheck_probe daemon_system_test nss_system_test pam_system_test cache_control_system_test ldap_system_test
DURATION ?= 30m
# --events: a line for each fault as it happens (the failures are read against
# them); add --keep to keep the folder (fastidd's log, auth-failures.txt).
SOAK_FLAGS ?= --events
soak: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTID_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j$(JOBS) --target $(SOAK_TARGETS)
	tests/soak/run-soak --self-test
	tests/soak/run-soak --duration $(DURATION) $(SOAK_FLAGS)

valgrind: deps
	scripts/install-deps valgrind
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTID_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build build -j$(JOBS) --target $(VALGRIND_TESTS)
	tests/valgrind/run-valgrind build

clean:
	rm -rf build build-asan build-tsan build-fuzz .demo
