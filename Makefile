# fastid — the two commands of the README, and a few more.
#   make demo    install dependencies, build, start fastidd on this host's
#                /etc/passwd and /etc/group, and show lookups through glibc
#   make test    install dependencies, build (plain, ASan+UBSan, TSan) and run every test
#   make bench   build and run the benchmarks (docs/benchmarks.md)
#   make fuzz    fuzz the fast cache reader for FUZZ_SECONDS (default 60)
#   make install install the build (prefix /usr/local unless CMAKE_FLAGS says
#                -DCMAKE_INSTALL_PREFIX=...; DESTDIR honoured)
#   make package-test  build the Debian packages, install them in a throw-away
#                root, use them through glibc and PAM, purge them (minutes)
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan build-tsan test demo demo-stop bench fuzz clean install package-test

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

# libFuzzer (clang-14) on the fast cache reader: arbitrary bytes as a map file.
FUZZ_SECONDS ?= 60
fuzz: deps
	tests/fuzz/run-fuzz $(FUZZ_SECONDS)

install: build
	cmake --install build

package-test:
	scripts/install-deps packaging
	tests/packaging/package-test

clean:
	rm -rf build build-asan build-tsan build-fuzz .demo
