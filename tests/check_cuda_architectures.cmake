# ctest's roiserve_ops_cuda_architectures: the CUDA build's libroiserve_ops.so
# holds exactly the device code its CUDA_ARCHITECTURES asks for: machine code
# for every entry but the -virtual ones, PTX for every entry but the -real ones.
# Anything more (LibTorch's own -gencode list leaking into the flags) or less
# fails.
#   cmake -DCUOBJDUMP=<cuobjdump> -DLIBRARY=<libroiserve_ops.so>
#         -DARCHITECTURES=<CUDA_ARCHITECTURES> -P check_cuda_architectures.cmake
set(expected_elf)
set(expected_ptx)
foreach(architecture IN LISTS ARCHITECTURES)
  string(REGEX MATCH "^[0-9]+[af]?" number "${architecture}")
  if(NOT architecture MATCHES "-virtual$")
    list(APPEND expected_elf sm_${number})
  endif()
  if(NOT architecture MATCHES "-real$")
    list(APPEND expected_ptx sm_${number})
  endif()
endforeach()

function(list_device_code option kind result)
  execute_process(COMMAND "${CUOBJDUMP}" ${option} "${LIBRARY}"
                  OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${CUOBJDUMP} ${option} ${LIBRARY} failed (${status}): ${errors}")
  endif()
  message("${listing}")
  # One line per translation unit and architecture: "ELF file 1: <library>.1.sm_80.cubin".
  string(REGEX MATCHALL "\\.sm_[0-9]+[af]?\\.${kind}" files "${listing}")
  set(architectures)
  foreach(file IN LISTS files)
    string(REGEX MATCH "sm_[0-9]+[af]?" architecture "${file}")
    list(APPEND architectures ${architecture})
  endforeach()
  list(REMOVE_DUPLICATES architectures)
  list(SORT architectures)
  set(${result} "${architectures}" PARENT_SCOPE)
endfunction()

list_device_code(--list-elf cubin elf)
list_device_code(--list-ptx ptx ptx)
list(SORT expected_elf)
list(SORT expected_ptx)
if(NOT elf STREQUAL expected_elf OR NOT ptx STREQUAL expected_ptx)
  message(FATAL_ERROR "${LIBRARY}: machine code for '${elf}' and PTX for '${ptx}', where "
                      "CUDA_ARCHITECTURES '${ARCHITECTURES}' asks for machine code for "
                      "'${expected_elf}' and PTX for '${expected_ptx}'")
endif()
message("machine code for ${elf}, PTX for ${ptx}: as CUDA_ARCHITECTURES '${ARCHITECTURES}' asks")
