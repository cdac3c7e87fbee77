#!/usr/bin/env bash
# Compile (and, given a CUDA build of torch, link) the extension without a GPU, the way
# torch.utils.cpp_extension would: same nvcc defines, C++20, one sm_90 target.
#   bash ops/cuda/compile_check.sh                      # .cu cores only (needs nvcc)
#   bash ops/cuda/compile_check.sh /path/to/torch       # + binding.cpp and the link, against that torch
#                                                       #   (a CUDA wheel's unpacked torch/ folder works)
set -euo pipefail
cd "$(dirname "$0")"
ARCH="${ARCH:-90}"
B="$(mktemp -d)"
trap 'rm -rf "$B"' EXIT
CUDA_INC="${CUDA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")}/include"
[ -f "$CUDA_INC/cuda_runtime.h" ] || CUDA_INC=/usr/local/cuda/include
NVCC_DEFS="-D__CUDA_NO_HALF_OPERATORS__ -D__CUDA_NO_HALF_CONVERSIONS__ -D__CUDA_NO_BFLOAT16_CONVERSIONS__ -D__CUDA_NO_HALF2_OPERATORS__ --expt-relaxed-constexpr"
for f in upfirdn2d bias_act filtered_lrelu filtered_lrelu_sep bias_act_grad filtered_lrelu_grad; do
  nvcc -c -O3 -std=c++20 -gencode=arch=compute_$ARCH,code=sm_$ARCH -Werror all-warnings $NVCC_DEFS \
    --compiler-options -fPIC -I. "$f.cu" -o "$B/$f.o"
  echo "ok  nvcc $f.cu (sm_$ARCH, C++20)"
done
for std in c++17 c++20; do
  c++ -O1 -std=$std -Wall -Wextra -Werror -pthread -shared -fPIC host_harness.cpp -o "$B/harness.so"
  c++ -O1 -std=$std -Wall -Wextra -Werror -pthread -DSG3H_RACE_MAIN host_harness.cpp -o "$B/harness_race"
  echo "ok  c++ host_harness.cpp ($std, library and race driver)"
done
if [ $# -ge 1 ]; then
  T="$1"
  PYINC="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  INC="-DTORCH_EXTENSION_NAME=sg3_compile_check -DTORCH_API_INCLUDE_EXTENSION_H -isystem $T/include -isystem $T/include/torch/csrc/api/include -isystem $CUDA_INC -isystem $PYINC -I."
  c++ $INC -fPIC -std=c++20 -O1 -Wall -c binding.cpp -o "$B/binding.o"
  echo "ok  c++ binding.cpp against $T"
  CUDA_LIB="$(dirname "$CUDA_INC")/lib64"
  c++ "$B"/*.o -shared -Wl,--no-undefined -Wl,--allow-shlib-undefined -L"$T/lib" -lc10 -lc10_cuda -ltorch_cpu \
    -ltorch_cuda -ltorch -ltorch_python -L"$CUDA_LIB" -lcudart \
    -L"$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')" \
    -lpython"$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')" \
    -o "$B/sg3_compile_check.so"
  nm -D "$B/sg3_compile_check.so" | grep PyInit_sg3_compile_check >/dev/null
  echo "ok  link: every symbol of the extension resolves"
fi
