# xdptcp_gtest(<name> LABEL <label> SOURCES <files...> [LIBS <libs...>] [TIMEOUT <s>] [RUN_SERIAL])
# One GoogleTest executable registered as one ctest test with one of the project's labels:
# unit, sim, bpf, integration, fuzz, bench-smoke (`ctest -L LABEL` runs one kind).
function(xdptcp_gtest name)
  cmake_parse_arguments(T "RUN_SERIAL" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL MATCHES "^(unit|sim|bpf|integration|fuzz|bench-smoke)$")
    message(FATAL_ERROR "xdptcp_gtest(${name}): LABEL must be one of unit sim bpf integration fuzz bench-smoke")
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main Threads::Threads)
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/tests)
  xdptcp_warnings(${name})
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT})
  # A binary in which a test called GTEST_SKIP is reported by ctest as skipped, not passed (ctest
  # sees one test per binary, so one skip marks the whole binary; tools/run-tests.sh fails when
  # anything skips as root). The expression matches GoogleTest's closing summary of a run without
  # failures: "[  SKIPPED ] N test(s), listed below:" and the skipped tests' lines, then the end of
  # the output, the "YOU HAVE N DISABLED TEST(S)" banner or other text. It must not match when
  # something failed, because a match overrides the exit code: GoogleTest's "[  FAILED  ]" list
  # (printed right after the skipped one) starts with "[", a sanitizer's report with a newline and
  # "==", and neither may follow the list.
  set_tests_properties(
    ${name}
    PROPERTIES
      SKIP_REGULAR_EXPRESSION
      "\\[  SKIPPED \\] [0-9]+ tests?, listed below:\n(\\[  SKIPPED \\] [^\n]*\n)*(\n  YOU HAVE [0-9]+ DISABLED TESTS?\n\n)?([^[\n=]|$)"
  )
  if(T_RUN_SERIAL OR T_LABEL STREQUAL "integration")
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# xdptcp_fuzz_test(<name> SOURCES <files...> INSTRUMENT <libs...> CORPUS <dir> [SECONDS <s>] [TIMEOUT <s>])
# One libFuzzer executable (clang only: does nothing without XDPTCP_HAVE_LIBFUZZER) registered as a
# ctest test with LABEL fuzz that runs it for SECONDS (default 20) on a copy of the seed corpus CORPUS
# (tests/fuzz/run_fuzzer.sh). The .cpp sources of the INSTRUMENT libraries (those that exist) are
# compiled into the fuzzer itself so that they carry libFuzzer's coverage instrumentation: the
# libraries are built without it.
function(xdptcp_fuzz_test name)
  cmake_parse_arguments(F "" "CORPUS;SECONDS;TIMEOUT" "SOURCES;INSTRUMENT" ${ARGN})
  if(NOT XDPTCP_HAVE_LIBFUZZER)
    return()
  endif()
  if(NOT F_CORPUS)
    message(FATAL_ERROR "xdptcp_fuzz_test(${name}): CORPUS <dir> is required")
  endif()
  if(NOT F_SECONDS)
    set(F_SECONDS 20)
  endif()
  if(NOT F_TIMEOUT)
    set(F_TIMEOUT 60)
  endif()
  set(_srcs)
  foreach(_lib IN LISTS F_INSTRUMENT)
    if(NOT TARGET ${_lib})
      continue()
    endif()
    get_target_property(_lib_srcs ${_lib} SOURCES)
    get_target_property(_lib_dir ${_lib} SOURCE_DIR)
    foreach(_s IN LISTS _lib_srcs)
      if(_s MATCHES "\\.cpp$")
        if(IS_ABSOLUTE ${_s})
          list(APPEND _srcs ${_s})
        else()
          list(APPEND _srcs ${_lib_dir}/${_s})
        endif()
      endif()
    endforeach()
  endforeach()
  add_executable(${name} ${F_SOURCES} ${_srcs})
  target_link_libraries(${name} PRIVATE xdptcp_base)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  xdptcp_warnings(${name})
  add_test(NAME ${name}
           COMMAND ${CMAKE_SOURCE_DIR}/tests/fuzz/run_fuzzer.sh $<TARGET_FILE:${name}> ${F_CORPUS}
                   ${CMAKE_CURRENT_BINARY_DIR}/${name}_run ${F_SECONDS})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT ${F_TIMEOUT})
endfunction()
