# Project-wide warning flags, applied per target with xdptcp_warnings(<target>).
function(xdptcp_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wno-missing-field-initializers)
endfunction()
