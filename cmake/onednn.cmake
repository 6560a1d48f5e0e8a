# oneDNN for the serving path's convolutions and fully connected layers
# (detector/model/onednn). Only the oneDNN that LibTorch itself runs on: Debian's
# LibTorch links the system's libdnnl.so.2, so the process holds one oneDNN and
# one OpenMP pool. A PyPI LibTorch carries its own oneDNN inside libtorch_cpu.so,
# and a second one beside it would be asking for clashing symbols; the detector
# then serves through ATen's convolutions alone (as it does on CUDA).
#   ROISERVE_ONEDNN: AUTO (where LibTorch links the system's oneDNN and its
#   headers are installed: libdnnl-dev), ON (required), OFF.
set(ROISERVE_ONEDNN AUTO CACHE STRING "Serve CPU convolutions through oneDNN: AUTO, ON or OFF")
set_property(CACHE ROISERVE_ONEDNN PROPERTY STRINGS AUTO ON OFF)

set(roiserve_onednn_found FALSE)
if(NOT ROISERVE_ONEDNN STREQUAL "OFF")
  find_path(ONEDNN_INCLUDE_DIR dnnl.hpp)
  find_library(ONEDNN_LIBRARY NAMES dnnl)
  find_library(torch_cpu_library torch_cpu HINTS ${TORCH_INSTALL_PREFIX}/lib)
  set(torch_links_onednn FALSE)
  if(torch_cpu_library)
    execute_process(COMMAND readelf --dynamic ${torch_cpu_library} OUTPUT_VARIABLE torch_dynamic
                    ERROR_QUIET)
    if(torch_dynamic MATCHES "libdnnl\\.so")
      set(torch_links_onednn TRUE)
    endif()
  endif()
  if(ONEDNN_INCLUDE_DIR AND ONEDNN_LIBRARY AND torch_links_onednn)
    set(roiserve_onednn_found TRUE)
    message(STATUS "oneDNN: serving convolutions through ${ONEDNN_LIBRARY}, LibTorch's own")
  elseif(ROISERVE_ONEDNN STREQUAL "ON")
    message(FATAL_ERROR "ROISERVE_ONEDNN=ON needs oneDNN's headers (libdnnl-dev) and a LibTorch "
                        "linked to that libdnnl.so (Debian's libtorch-dev)")
  else()
    message(STATUS "oneDNN: not used (needs libdnnl-dev and a LibTorch linked to it); "
                   "CPU convolutions go through ATen")
  endif()
endif()
