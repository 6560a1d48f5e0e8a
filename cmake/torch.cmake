# Finds LibTorch for roiserve, and the CUDA language where ROISERVE_CUDA is on.
# LibTorch: Debian's libtorch-dev by default; pass -DCMAKE_PREFIX_PATH=$(python -c
# 'import torch; print(torch.utils.cmake_prefix_path)') for a PyPI LibTorch 2.x.
if(ROISERVE_CUDA)
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
endif()
# TorchConfig.cmake looks libc10.so up with find_library, which searches /usr/lib
# before the LibTorch's own lib/: with Debian's libtorch-dev installed, a LibTorch
# named by its <torch>/share/cmake prefix would link Debian's libc10.so beside its
# own. Its lib/ is searched first.
set(library_path ${CMAKE_LIBRARY_PATH})
foreach(torch_config_dir IN LISTS Torch_DIR CMAKE_PREFIX_PATH)
  if(NOT EXISTS ${torch_config_dir}/TorchConfig.cmake)
    set(torch_config_dir ${torch_config_dir}/Torch)
  endif()
  if(EXISTS ${torch_config_dir}/TorchConfig.cmake)
    get_filename_component(torch_library_dir ${torch_config_dir}/../../../lib ABSOLUTE)
    list(PREPEND CMAKE_LIBRARY_PATH ${torch_library_dir})
    break()
  endif()
endforeach()
# LibTorch's CUDA set-up appends its own -gencode list (every architecture it was
# built for) and nvcc options to CMAKE_CUDA_FLAGS: roiserve's CUDA flags are
# roiserve_ops' own (ops/CMakeLists.txt).
set(cuda_flags "${CMAKE_CUDA_FLAGS}")
find_package(Torch REQUIRED)
set(CMAKE_CUDA_FLAGS "${cuda_flags}")
set(CMAKE_LIBRARY_PATH ${library_path})
# Without MKL, LibTorch 2.x's caffe2::mkl still names ${MKL_ROOT}/lib/intel64 and
# the like, which would put /lib/intel64 into every binary's run path.
if(TARGET caffe2::mkl AND NOT MKL_FOUND)
  set_property(TARGET caffe2::mkl PROPERTY INTERFACE_LINK_DIRECTORIES "")
endif()
set(torch_include_dir ${TORCH_INSTALL_PREFIX}/include)
# A LibTorch from PyPI or pytorch.org rather than Debian's: its libtorch.so
# exports the parts of a newer libstdc++ it was linked with statically
# (std::filesystem among them). Listed before libstdc++.so.6 in a program's
# libraries it would take the program's calls to them, and crash there
# (std::filesystem::remove_all jumps to address 0): libstdc++.so.6 goes first.
if(NOT torch_include_dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
  add_link_options(LINKER:--push-state,--no-as-needed -lstdc++ LINKER:--pop-state)
endif()
# PyPI's LibTorch ships the headers of the protobuf and fmt it was built with in
# its include/, which is searched before /usr/include: Debian's protobuf (for
# gRPC's generated code) and fmt (for spdlog) would lose to them. LibTorch's own
# headers use neither, so its targets get that include/ without google/ and fmt/.
if(NOT torch_include_dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES
   AND (EXISTS ${torch_include_dir}/google OR EXISTS ${torch_include_dir}/fmt))
  set(torch_own_include_dir ${PROJECT_BINARY_DIR}/torch-include)
  file(REMOVE_RECURSE ${torch_own_include_dir})
  file(MAKE_DIRECTORY ${torch_own_include_dir})
  file(GLOB torch_include_entries RELATIVE ${torch_include_dir} ${torch_include_dir}/*)
  list(REMOVE_ITEM torch_include_entries google fmt)
  foreach(entry IN LISTS torch_include_entries)
    file(CREATE_LINK ${torch_include_dir}/${entry} ${torch_own_include_dir}/${entry} SYMBOLIC)
  endforeach()
  foreach(target IN ITEMS torch torch_cpu torch_cuda c10 c10_cuda)
    if(TARGET ${target})
      get_target_property(include_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
      string(REPLACE ${torch_include_dir} ${torch_own_include_dir} include_dirs "${include_dirs}")
      set_property(TARGET ${target} PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${include_dirs}")
    endif()
  endforeach()
endif()
