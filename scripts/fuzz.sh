#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang under ASan + UBSan in
# build-fuzz/ (CMake preset asan, which scripts/sanitize.sh shares), and
# fuzzes each for a while, starting from its committed corpus (new inputs go
# to build-fuzz/corpus/<name>/; crashes to build-fuzz/crashes/).
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(image_decoding raw_pixels request_options model_config roi_ops)

scripts/install-deps.sh clang
cmake --preset asan >/dev/null
cmake --build --preset asan --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}"

# LibTorch's own allocations are never freed at exit: leaks are not findings here.
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p build-fuzz/crashes
for target in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$target
  mkdir -p "$corpus"
  echo "== fuzz_$target for ${seconds}s"
  build-fuzz/tests/fuzz/fuzz_$target "$corpus" "tests/fuzz/corpus/$target" \
    -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 -timeout=20 \
    -artifact_prefix=build-fuzz/crashes/"$target"- -print_final_stats=1 2>&1 |
    grep -E "^(#[0-9]+.*DONE|stat::|==[0-9]+==ERROR|SUMMARY)" || true
done
if compgen -G "build-fuzz/crashes/*" >/dev/null; then
  echo "findings: build-fuzz/crashes/" >&2
  exit 1
fi
