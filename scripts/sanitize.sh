#!/usr/bin/env bash
# The tests under clang 14's sanitizers, each in a build of its own:
#   scripts/sanitize.sh address   ASan + UBSan (CMake preset asan, build-fuzz/,
#       shared with scripts/fuzz.sh): every C++ test (CTest), and the Python
#       tests that drive our binaries: the server over gRPC, the CLI tools and
#       the parity tools. Not the soak test (ASan's quarantine holds freed
#       memory, so RSS says nothing there), nor the operator tests, which load
#       libroiserve_ops.so into an uninstrumented Python.
#   scripts/sanitize.sh thread    TSan (preset tsan, build-tsan/): the
#       concurrency tests of the server's own threading: batch scheduler,
#       batch runner, drain gate. Not the server over gRPC: Debian's gRPC is
#       not built with TSan, so TSan cannot see how gRPC hands a call from one
#       of its threads to another, and reports each handoff as a race (1,928
#       reports in one run, all in gRPC's, protobuf's or OpenMP's code or
#       threads; README).
# A sanitizer report anywhere (also in a process whose failure a test
# expects) fails the run: reports go to <build>/sanitizer-reports/.
# Not in CI: each build takes about 40 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  address) preset=asan build=build-fuzz targets=(all) ;;
  thread)
    preset=tsan build=build-tsan
    targets=(roiserve_server_tests) ;;
  *) echo "usage: $0 address|thread" >&2; exit 2 ;;
esac
threads=$(nproc)
scripts/install-deps.sh clang
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --parallel "$threads" --target "${targets[@]}"

reports=$PWD/$build/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
export OMP_WAIT_POLICY=PASSIVE
status=0
if [[ $1 == address ]]; then
  # LibTorch never frees some allocations of its own: leaks are not findings.
  export ASAN_OPTIONS=detect_leaks=0:log_path=$reports/asan
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan
  ctest --test-dir "$build" --output-on-failure --parallel "$threads" --timeout 1800 || status=1
  ROISERVE_BUILD_DIR=$PWD/$build \
  ROISERVE_COCO_EVAL_CLI=$PWD/$build/tests/roiserve_coco_eval_cli \
  ROISERVE_STAGE_DUMP=$PWD/$build/tests/roiserve_stage_dump \
    .venv-test/bin/python -m pytest -q -p no:cacheprovider -n "$threads" \
    tests/python/test_service_{admin,api,client_cli,rejections,runtime,security}.py \
    tests/python/test_{detect_cli,eval_cli,coco_eval_parity,torchvision_parity}.py || status=1
else
  # One intra-op thread: TSan cannot see the synchronization of the OpenMP
  # runtime (not built with TSan either); the concurrency under test is ours.
  export OMP_NUM_THREADS=1
  export TSAN_OPTIONS=second_deadlock_stack=1:log_path=$reports/tsan
  ctest --test-dir "$build" --output-on-failure --parallel "$threads" --timeout 1800 \
    -R 'BatchScheduler|BatchRunner|DrainGate' || status=1
fi
if compgen -G "$reports/*" >/dev/null; then
  echo "sanitizer reports: $reports" >&2
  head -c 20000 "$reports"/* >&2
  status=1
fi
exit "$status"
