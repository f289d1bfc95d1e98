# ASan + UBSan for the Debug test configuration (tools/run-tests.sh builds build-asan/ with it).
if(XDPTCP_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# libFuzzer targets are built only with clang (it ships the fuzzer runtime).
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  set(XDPTCP_HAVE_LIBFUZZER ON)
else()
  set(XDPTCP_HAVE_LIBFUZZER OFF)
endif()
