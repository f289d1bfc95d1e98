# xdptcp_add_subdirectories(): adds every subfolder of the current folder that has a
# CMakeLists.txt, in name order. The folder layout is the component list (docs/ARCHITECTURE.md):
# a new component is a new folder, with no list to edit.
function(xdptcp_add_subdirectories)
  file(GLOB _subdirs LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT _subdirs)
  foreach(_d IN LISTS _subdirs)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_d}/CMakeLists.txt)
      add_subdirectory(${_d})
    endif()
  endforeach()
endfunction()
