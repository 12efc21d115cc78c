# System tests of the whole daemon: each starts its own fastidd (build/bin) on
# a private temporary folder with a generated dataset and stops it.
# Sanitizer builds: getent is not instrumented, so the module it loads needs
# the ASan runtime preloaded (FASTID_ASAN_RUNTIME_DEFS, tests/CMakeLists.txt).
set(FASTID_SYSTEM_DEFS
  FASTID_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
  FASTID_LIB_DIR="${CMAKE_BINARY_DIR}/lib"
  FASTID_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  ${FASTID_ASAN_RUNTIME_DEFS})

foreach(t nss_system_test daemon_system_test pam_system_test pam_security_system_test pam_chauthtok_system_test pam_access_system_test
          pam_password_system_test net_system_test
          workers_system_test limits_system_test tls_system_test conn_budget_system_test conn_secrets_system_test
          privilege_system_test service_system_test cache_control_system_test
          logs_system_test status_json_system_test storage_faults_system_test
          hostile_clients_system_test)
  set(libs fastid_proto)
  if(t MATCHES "^pam_")
    list(APPEND libs crypt)
  endif()
  # What the tests run: the daemon, the CLI, the module and the glibc programs.
  fastid_test_binary(${t} DEFS ${FASTID_SYSTEM_DEFS} LIBS ${libs} LABELS system TIMEOUT 600
                     DEPENDS fastidd fastid_cli nss_fastid nss_query nss_stress fastid-provider-worker
                             pam_fastid pam_driver)
endforeach()

# The metrics listener (docs/operations.md "Metrics"): real curl, Prometheus'
# own parser, hostile HTTP peers.
add_executable(metrics_system_test metrics_system_test.cc)
fastid_warnings(metrics_system_test)
target_compile_definitions(metrics_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(metrics_system_test PRIVATE fastid_proto GTest::gtest GTest::gtest_main Threads::Threads crypt)
add_dependencies(metrics_system_test fastidd fastid_cli nss_fastid fastid-provider-worker pam_fastid)
add_test(NAME metrics_system_test COMMAND metrics_system_test)
set_tests_properties(metrics_system_test PROPERTIES LABELS "system;metrics" TIMEOUT 600)

# The systemd userdb front (docs/varlink.md): real nss-systemd, getent, id and
# userdbctl in a private mount namespace, the interface's errors, hostile peers.
fastid_test_binary(varlink_system_test DEFS ${FASTID_SYSTEM_DEFS} LIBS nlohmann_json::nlohmann_json
                   LABELS system varlink TIMEOUT 600
                   DEPENDS fastidd fastid_cli fastid-provider-worker)

# The fast cache's security tests through the real NSS module: hostile map
# headers (tests/fuzz/hostile_maps.h), canary names, the maps' owner.
fastid_test_binary(fastcache_system_test DEFS ${FASTID_SYSTEM_DEFS} INCLUDES ${CMAKE_SOURCE_DIR}/tests/fuzz
                   LIBS fastid_fastcache_writer LABELS system fastcache TIMEOUT 600
                   DEPENDS fastidd fastid_cli nss_fastid fastid-provider-worker)

# Netgroups from a files provider's netgroup(5) file through real glibc:
# getent netgroup and innetgr() with the test's own nsswitch.conf (issue #16).
fastid_test_binary(netgroup_system_test DEFS ${FASTID_SYSTEM_DEFS} LABELS system TIMEOUT 300
                   DEPENDS fastidd fastid_cli nss_fastid innetgr_query)

# The persistent store and offline mode (docs/store.md), with store_fill to
# make a large store without a hundred thousand lookups.
add_executable(store_fill store_fill.cc)
fastid_warnings(store_fill)
target_link_libraries(store_fill PRIVATE fastid_store fastid_providers)
fastid_test_binary(store_system_test DEFS ${FASTID_SYSTEM_DEFS} LIBS fastid_proto LABELS system store TIMEOUT 600
                   DEPENDS fastidd fastid_cli nss_fastid nss_query nss_stress fastid-provider-worker store_fill)

# The store in front of a real slapd (tests/ldap/slapd-fixture): outages in the
# middle of loads, restarts while slapd is down.
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/support/slapd_fixture.h)
  # ALSO_ASYNC: the same tests with lookups searched by the front worker (async_lookups).
  fastid_test_binary(store_ldap_system_test ALSO_ASYNC DEFS ${FASTID_SYSTEM_DEFS}
                     LABELS system store ldap TIMEOUT 600
                     DEPENDS fastidd fastid_cli nss_fastid nss_query nss_stress fastid-provider-worker)
endif()
# A wrong directory setting (base, bind password, CA) against the private slapd:
# --check-config fails, a start goes on and serves the local provider.
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/support/slapd_fixture.h)
  fastid_test_binary(wrong_setting_system_test DEFS ${FASTID_SYSTEM_DEFS} LABELS system ldap TIMEOUT 600
                     DEPENDS fastidd nss_fastid nss_query fastid-provider-worker)
endif()
# PAM against the private slapd of tests/ldap (slapd-fixture): the LDAP
# provider binds as the user (docs/pam.md).
# ALSO_ASYNC: the same tests with lookups searched by the front worker (async_lookups).
fastid_test_binary(pam_ldap_system_test ALSO_ASYNC DEFS ${FASTID_SYSTEM_DEFS} LIBS fastid_proto crypt
                   LABELS system ldap TIMEOUT 600
                   DEPENDS fastidd nss_fastid fastid-provider-worker pam_fastid)

# The nscd front through real glibc (docs/nscd.md): nscd_probe calls glibc's
# lookups with no NSS module configured; nscd_probe_static is the same program
# linked statically (glibc warns at link time: a static getpwnam still uses
# nscd's socket, which is what the test checks).
add_executable(nscd_probe nscd_probe.c)
fastid_warnings(nscd_probe)
add_executable(nscd_probe_static nscd_probe.c)
fastid_warnings(nscd_probe_static)
# Never sanitized (a sanitizer runtime cannot be linked statically): it is
# glibc's static client that is under test, not this program.
target_compile_options(nscd_probe_static PRIVATE -fno-sanitize=all)
target_link_options(nscd_probe_static PRIVATE -fno-sanitize=all -static)
add_executable(nscd_churn nscd_churn.c)
fastid_warnings(nscd_churn)
fastid_test_binary(nscd_system_test DEFS ${FASTID_SYSTEM_DEFS} LABELS system nscd TIMEOUT 600
                   DEPENDS fastidd fastid_cli fastid-provider-worker nscd_probe nscd_probe_static nscd_churn)

# The store's writes off the loop; the longest loop turn in status (issue 20).
fastid_test_binary(loop_latency_system_test DEFS ${FASTID_SYSTEM_DEFS} LIBS fastid_proto LABELS system store TIMEOUT 600
                   DEPENDS fastidd fastid_cli nss_fastid nss_stress fastid-provider-worker)
# `nscd -g` / `nscd -K` (Debian's nscd binary, its client side only) and the
# maps with two front workers.
fastid_test_binary(nscd_admin_system_test DEFS ${FASTID_SYSTEM_DEFS} LABELS system nscd TIMEOUT 600
                   DEPENDS fastidd fastid_cli fastid-provider-worker nscd_probe)
# The fault matrix for the directory and the processes (issue 20,
# docs/reliability.md): slapd killed and hung, provider and front workers
# killed and hung, each under a load through glibc, each printing its figure.
fastid_test_binary(fault_matrix_system_test DEFS ${FASTID_SYSTEM_DEFS} LABELS system store ldap TIMEOUT 600
                   DEPENDS fastidd fastid_cli nss_fastid nss_query nss_stress fastid-provider-worker)
# Fault matrix: the wall clock jumps a day forward and backward under fastidd
# and its clients (Debian's libfaketime preloaded), in front of a private
# slapd: store and fast cache expiry, refresh-ahead, offline answers and
# credentials, the lockout (docs/reliability.md "Fault matrix: clock jumps").
# Under ASan every process runs with allocator_release_to_os_interval_ms=-1:
# otherwise ASan's allocator reads the clock under its own lock, libfaketime's
# first clock read allocates, and the process hangs at start.
fastid_test_binary(clock_jump_system_test DEFS ${FASTID_SYSTEM_DEFS} LIBS crypt LABELS system ldap pam TIMEOUT 300
                   DEPENDS fastidd fastid_cli nss_fastid fastid-provider-worker pam_fastid clock_probe)

# A fault injector that storage_faults_system_test preloads into fastidd: it
# cuts data.mdb short between the store's check and LMDB's read (the window
# only the SIGBUS guard closes). Never installed.
add_library(cut_store_mid_read MODULE cut_store_mid_read.c)
set_target_properties(cut_store_mid_read PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
target_include_directories(cut_store_mid_read PRIVATE ${LMDB_INCLUDE_DIR})
target_link_libraries(cut_store_mid_read PRIVATE ${CMAKE_DL_LIBS})
add_dependencies(storage_faults_system_test cut_store_mid_read)
