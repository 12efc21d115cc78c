# System tests of the whole daemon: each starts its own fastidd (build/bin) on
# a private temporary folder with a generated dataset and stops it.
set(FASTID_SYSTEM_DEFS
  FASTID_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
  FASTID_LIB_DIR="${CMAKE_BINARY_DIR}/lib"
  FASTID_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
# Sanitizer builds: getent is not instrumented, so the module it loads needs
# the ASan runtime preloaded.
if(FASTID_SANITIZE MATCHES "address")
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE ASAN_RUNTIME OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND FASTID_SYSTEM_DEFS FASTID_ASAN_RUNTIME="${ASAN_RUNTIME}")
endif()

foreach(t nss_system_test daemon_system_test pam_system_test pam_security_system_test pam_chauthtok_system_test pam_access_system_test
          pam_password_system_test net_system_test
          workers_system_test limits_system_test tls_system_test conn_budget_system_test conn_secrets_system_test
          privilege_system_test service_system_test cache_control_system_test
          logs_system_test status_json_system_test storage_faults_system_test
          hostile_clients_system_test pam_deadline_system_test)
  add_executable(${t} ${t}.cc)
  fastid_warnings(${t})
  target_compile_definitions(${t} PRIVATE ${FASTID_SYSTEM_DEFS})
  target_link_libraries(${t} PRIVATE fastid_proto GTest::gtest GTest::gtest_main Threads::Threads)
  # What the tests run: the daemon, the CLI, the module and the glibc programs.
  add_dependencies(${t} fastidd fastid_cli nss_fastid nss_query nss_stress fastid-provider-worker
                   pam_fastid pam_driver)
  add_test(NAME ${t} COMMAND ${t})
  if(t MATCHES "^pam_")
    target_link_libraries(${t} PRIVATE crypt)
  endif()
  set_tests_properties(${t} PROPERTIES LABELS "system" TIMEOUT 600)
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
add_executable(varlink_system_test varlink_system_test.cc)
fastid_warnings(varlink_system_test)
target_compile_definitions(varlink_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(varlink_system_test PRIVATE nlohmann_json::nlohmann_json GTest::gtest GTest::gtest_main
                      Threads::Threads)
add_dependencies(varlink_system_test fastidd fastid_cli fastid-provider-worker)
add_test(NAME varlink_system_test COMMAND varlink_system_test)
set_tests_properties(varlink_system_test PROPERTIES LABELS "system;varlink" TIMEOUT 600)

# The fast cache's security tests through the real NSS module: hostile map
# headers (tests/fuzz/hostile_maps.h), canary names, the maps' owner.
add_executable(fastcache_system_test fastcache_system_test.cc)
fastid_warnings(fastcache_system_test)
target_compile_definitions(fastcache_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_include_directories(fastcache_system_test PRIVATE ${CMAKE_SOURCE_DIR}/tests/fuzz)
target_link_libraries(fastcache_system_test PRIVATE fastid_fastcache_writer GTest::gtest GTest::gtest_main
                      Threads::Threads)
add_dependencies(fastcache_system_test fastidd fastid_cli nss_fastid fastid-provider-worker)
add_test(NAME fastcache_system_test COMMAND fastcache_system_test)
set_tests_properties(fastcache_system_test PROPERTIES LABELS "system;fastcache" TIMEOUT 600)

# Netgroups from a files provider's netgroup(5) file through real glibc:
# getent netgroup and innetgr() with the test's own nsswitch.conf (issue #16).
add_executable(netgroup_system_test netgroup_system_test.cc)
fastid_warnings(netgroup_system_test)
target_compile_definitions(netgroup_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(netgroup_system_test PRIVATE GTest::gtest GTest::gtest_main Threads::Threads)
add_dependencies(netgroup_system_test fastidd fastid_cli nss_fastid innetgr_query)
add_test(NAME netgroup_system_test COMMAND netgroup_system_test)
set_tests_properties(netgroup_system_test PROPERTIES LABELS "system" TIMEOUT 300)

# The persistent store and offline mode (docs/store.md), with store_fill to
# make a large store without a hundred thousand lookups.
add_executable(store_fill store_fill.cc)
fastid_warnings(store_fill)
target_link_libraries(store_fill PRIVATE fastid_store fastid_providers)
add_executable(store_system_test store_system_test.cc)
fastid_warnings(store_system_test)
target_compile_definitions(store_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(store_system_test PRIVATE fastid_proto GTest::gtest GTest::gtest_main Threads::Threads)
add_dependencies(store_system_test fastidd fastid_cli nss_fastid nss_query nss_stress fastid-provider-worker store_fill)
add_test(NAME store_system_test COMMAND store_system_test)
set_tests_properties(store_system_test PROPERTIES LABELS "system;store" TIMEOUT 600)

# The store in front of a real slapd (tests/ldap/slapd-fixture): outages in the
# middle of loads, restarts while slapd is down.
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/support/slapd_fixture.h)
  add_executable(store_ldap_system_test store_ldap_system_test.cc)
  fastid_warnings(store_ldap_system_test)
  target_compile_definitions(store_ldap_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
    target_link_libraries(store_ldap_system_test PRIVATE GTest::gtest GTest::gtest_main Threads::Threads)
  add_dependencies(store_ldap_system_test fastidd fastid_cli nss_fastid nss_query nss_stress
                   fastid-provider-worker)
  add_test(NAME store_ldap_system_test COMMAND store_ldap_system_test)
  set_tests_properties(store_ldap_system_test PROPERTIES LABELS "system;store;ldap" TIMEOUT 600)
  # The same tests with lookups searched by the front worker (async_lookups).
  add_test(NAME store_ldap_system_test_async COMMAND store_ldap_system_test)
  set_tests_properties(store_ldap_system_test_async PROPERTIES LABELS "system;store;ldap" TIMEOUT 600
                       ENVIRONMENT "FASTID_TEST_LDAP_ASYNC=1")
endif()
# A wrong directory setting (base, bind password, CA) against the private slapd:
# --check-config fails, a start goes on and serves the local provider.
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/support/slapd_fixture.h)
  add_executable(wrong_setting_system_test wrong_setting_system_test.cc)
  fastid_warnings(wrong_setting_system_test)
  target_compile_definitions(wrong_setting_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
  target_link_libraries(wrong_setting_system_test PRIVATE GTest::gtest GTest::gtest_main Threads::Threads)
  add_dependencies(wrong_setting_system_test fastidd nss_fastid nss_query fastid-provider-worker)
  add_test(NAME wrong_setting_system_test COMMAND wrong_setting_system_test)
  set_tests_properties(wrong_setting_system_test PROPERTIES LABELS "system;ldap" TIMEOUT 600)
endif()
# PAM against the private slapd of tests/ldap (slapd-fixture): the LDAP
# provider binds as the user (docs/pam.md).
add_executable(pam_ldap_system_test pam_ldap_system_test.cc)
fastid_warnings(pam_ldap_system_test)
target_compile_definitions(pam_ldap_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(pam_ldap_system_test PRIVATE fastid_proto GTest::gtest GTest::gtest_main Threads::Threads crypt)
add_dependencies(pam_ldap_system_test fastidd nss_fastid fastid-provider-worker pam_fastid)
add_test(NAME pam_ldap_system_test COMMAND pam_ldap_system_test)
set_tests_properties(pam_ldap_system_test PROPERTIES LABELS "system;ldap" TIMEOUT 600)
# The same tests with lookups searched by the front worker (async_lookups).
add_test(NAME pam_ldap_system_test_async COMMAND pam_ldap_system_test)
set_tests_properties(pam_ldap_system_test_async PROPERTIES LABELS "system;ldap" TIMEOUT 600
                     ENVIRONMENT "FASTID_TEST_LDAP_ASYNC=1")

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
add_executable(nscd_system_test nscd_system_test.cc)
fastid_warnings(nscd_system_test)
target_compile_definitions(nscd_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(nscd_system_test PRIVATE GTest::gtest GTest::gtest_main Threads::Threads)
add_dependencies(nscd_system_test fastidd fastid_cli fastid-provider-worker nscd_probe nscd_probe_static nscd_churn)
add_test(NAME nscd_system_test COMMAND nscd_system_test)
set_tests_properties(nscd_system_test PROPERTIES LABELS "system;nscd" TIMEOUT 600)

# The store's writes off the loop; the longest loop turn in status (issue 20).
add_executable(loop_latency_system_test loop_latency_system_test.cc)
fastid_warnings(loop_latency_system_test)
target_compile_definitions(loop_latency_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(loop_latency_system_test PRIVATE fastid_proto GTest::gtest GTest::gtest_main Threads::Threads)
add_dependencies(loop_latency_system_test fastidd fastid_cli nss_fastid nss_stress fastid-provider-worker)
add_test(NAME loop_latency_system_test COMMAND loop_latency_system_test)
set_tests_properties(loop_latency_system_test PROPERTIES LABELS "system;store" TIMEOUT 600)
# `nscd -g` / `nscd -K` (Debian's nscd binary, its client side only) and the
# maps with two front workers.
add_executable(nscd_admin_system_test nscd_admin_system_test.cc)
fastid_warnings(nscd_admin_system_test)
target_compile_definitions(nscd_admin_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(nscd_admin_system_test PRIVATE GTest::gtest GTest::gtest_main Threads::Threads)
add_dependencies(nscd_admin_system_test fastidd fastid_cli fastid-provider-worker nscd_probe)
add_test(NAME nscd_admin_system_test COMMAND nscd_admin_system_test)
set_tests_properties(nscd_admin_system_test PROPERTIES LABELS "system;nscd" TIMEOUT 600)
# The fault matrix for the directory and the processes (issue 20,
# docs/reliability.md): slapd killed and hung, provider and front workers
# killed and hung, each under a load through glibc, each printing its figure.
add_executable(fault_matrix_system_test fault_matrix_system_test.cc)
fastid_warnings(fault_matrix_system_test)
target_compile_definitions(fault_matrix_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(fault_matrix_system_test PRIVATE GTest::gtest GTest::gtest_main Threads::Threads)
add_dependencies(fault_matrix_system_test fastidd fastid_cli nss_fastid nss_query nss_stress fastid-provider-worker)
add_test(NAME fault_matrix_system_test COMMAND fault_matrix_system_test)
set_tests_properties(fault_matrix_system_test PROPERTIES LABELS "system;store;ldap" TIMEOUT 600)
# Fault matrix: the wall clock jumps a day forward and backward under fastidd
# and its clients (Debian's libfaketime preloaded), in front of a private
# slapd: store and fast cache expiry, refresh-ahead, offline answers and
# credentials, the lockout (docs/reliability.md "Fault matrix: clock jumps").
# Under ASan every process runs with allocator_release_to_os_interval_ms=-1:
# otherwise ASan's allocator reads the clock under its own lock, libfaketime's
# first clock read allocates, and the process hangs at start.
add_executable(clock_jump_system_test clock_jump_system_test.cc)
fastid_warnings(clock_jump_system_test)
target_compile_definitions(clock_jump_system_test PRIVATE ${FASTID_SYSTEM_DEFS})
target_link_libraries(clock_jump_system_test PRIVATE GTest::gtest GTest::gtest_main Threads::Threads crypt)
add_dependencies(clock_jump_system_test fastidd fastid_cli nss_fastid fastid-provider-worker pam_fastid
                 clock_probe)
add_test(NAME clock_jump_system_test COMMAND clock_jump_system_test)
set_tests_properties(clock_jump_system_test PROPERTIES LABELS "system;ldap;pam" TIMEOUT 300)

# A fault injector that storage_faults_system_test preloads into fastidd: it
# cuts data.mdb short between the store's check and LMDB's read (the window
# only the SIGBUS guard closes). Never installed.
add_library(cut_store_mid_read MODULE cut_store_mid_read.c)
set_target_properties(cut_store_mid_read PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
target_include_directories(cut_store_mid_read PRIVATE ${LMDB_INCLUDE_DIR})
target_link_libraries(cut_store_mid_read PRIVATE ${CMAKE_DL_LIBS})
add_dependencies(storage_faults_system_test cut_store_mid_read)
