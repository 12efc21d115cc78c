# The libFuzzer targets of tests/fuzz and the libraries they link, written once
# for both builds that compile them: the normal builds (g++, each target under
# its own entry point names in fuzz_replay_test: tests/CMakeLists.txt) and the
# fuzzing build (clang-16, libFuzzer, build-fuzz/: tests/fuzz/CMakeLists.txt,
# made by tests/fuzz/run-fuzz). Both link the project's own libraries, whose
# sources each folder's CMakeLists.txt lists, so no list of sources is kept
# here: a file split in src/ is a file of its library in both builds.
set(FASTID_FUZZ_TARGETS request_decoder client_reply worker_request worker_reply config files lines
    ldap_entry offline_credentials fastcache_reader nscd_request varlink_call)
set(FASTID_FUZZ_LIBS fastid_config fastid_pool fastid_providers fastid_auth fastid_proto fastid_client
    fastid_core)

# A target named without its source stops the configure step, in both builds.
foreach(t ${FASTID_FUZZ_TARGETS})
  if(NOT EXISTS ${CMAKE_SOURCE_DIR}/tests/fuzz/${t}_fuzz.cc)
    message(FATAL_ERROR "fuzz target ${t}: ${CMAKE_SOURCE_DIR}/tests/fuzz/${t}_fuzz.cc does not exist")
  endif()
endforeach()
