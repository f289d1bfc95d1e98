# Builds a BPF C program with clang -target bpf and turns it into a libbpf skeleton with bpftool.
#   xdptcp_bpf_skeleton(<name> <source.bpf.c>)
# produces <build>/bpf/<name>.bpf.o and <build>/bpf/<name>.skel.h and an INTERFACE target
# <name>_skel whose include directory holds the skeleton.
find_program(BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

function(xdptcp_bpf_skeleton name src)
  set(out_dir ${CMAKE_BINARY_DIR}/bpf)
  set(obj ${out_dir}/${name}.bpf.o)
  set(skel ${out_dir}/${name}.skel.h)
  file(MAKE_DIRECTORY ${out_dir})
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
            -I${CMAKE_SOURCE_DIR}/bpf/include -I/usr/include/x86_64-linux-gnu
            -c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src} ${ARGN}
    COMMENT "BPF ${src}")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${name}.skel.h")
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir} ${CMAKE_SOURCE_DIR}/bpf/include)
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
endfunction()
