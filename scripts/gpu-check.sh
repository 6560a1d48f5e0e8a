#!/usr/bin/env bash
# The GPU check, one command on a machine with one NVIDIA GPU (H100 or H200),
# nvcc, CMake, ninja and a python3 with a CUDA torch and torchvision; no
# network, no Debian -dev packages (LibTorch is the pip torch's):
#
#   scripts/gpu-check.sh OUTDIR [--cpu-smoke]
#
# Builds libroiserve_ops.so with the CUDA kernels and roiserve-device-check
# against the python3's torch, then runs, each part within what is left of an
# 8-minute budget:
#   op_parity        scripts/gpu/op_parity.py: the CUDA ops against the CPU
#                    kernels and torchvision's CUDA ops (forward, gradients,
#                    reduced precision, layouts, empty inputs, deterministic
#                    mode, float64 gradcheck)
#   detector_eval    shapes-v1 box and mask AP of the shipped model on the 200
#                    validation images, CUDA against CPU (within 0.005)
#   latency_shapes   per-stage latency of the shipped model, 800x1216, batch 1 and 8
#   benchmark        benchmarks/compare_cuda_ops.py: our CUDA ops against
#                    torchvision's on the FPN workload, GB/s against the copy bandwidth
#   memcheck         compute-sanitizer memcheck over op_parity.py --quick
#   maskrcnn_bundle  a seeded maskrcnn_resnet50_fpn imported as a bundle
#   latency_maskrcnn its per-stage latency, 800x1216, batch 1 and 8
#   racecheck        (optional: does not decide the outcome) compute-sanitizer
#                    racecheck over the quick forward and gradient checks
# A part that fails does not stop the others; one that needs a failed part's
# output is "blocked". OUTDIR gets results.json (every part's status and
# results), summary.md and logs.txt. Exit status 0 when every part passed.
#
# --cpu-smoke runs the same parts on a machine without a GPU: the ops against
# the CUDA kernels' host emulation (libroiserve_cuda_host.so), the detector on
# the CPU on a few small images, no sanitizer; a dry run of this script, not a
# check. Settings (environment):
#   PYTHON                         python with torch and torchvision (python3)
#   ROISERVE_GPU_CHECK_BUILD_DIR   build directory (build-gpu-check)
#   ROISERVE_GPU_CHECK_BUDGET_S    time budget in seconds (470)
#   ROISERVE_GPU_CHECK_JOBS        build jobs (16; 2 with --cpu-smoke)
# The part_* functions run through `bash -c` (under timeout), not called here.
# shellcheck disable=SC2317
set -uo pipefail

usage() {
  echo "usage: $0 OUTDIR [--cpu-smoke]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage
SMOKE=0
if [[ $# -eq 2 ]]; then
  [[ $2 == --cpu-smoke ]] || usage
  SMOKE=1
fi

REPO=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1" || exit 2
OUTDIR=$(cd "$1" && pwd)
PY=${PYTHON:-python3}
BUILD=${ROISERVE_GPU_CHECK_BUILD_DIR:-$REPO/build-gpu-check}
BUDGET_S=${ROISERVE_GPU_CHECK_BUDGET_S:-470}
WORK=$BUILD/gpu-check
LOG=$OUTDIR/logs.txt
LIB=$BUILD/ops/libroiserve_ops.so
HOST_LIB=$BUILD/ops/libroiserve_cuda_host.so
DEVICE_CHECK=$BUILD/tools/roiserve-device-check
SHAPES_MODEL=$REPO/models/shapes-v1
MASKRCNN_MODEL=$WORK/maskrcnn_resnet50_fpn
if ((SMOKE)); then
  JOBS=${ROISERVE_GPU_CHECK_JOBS:-2}
  DEVICE=cpu
  EMULATE=(--emulate "$HOST_LIB")
  EVAL_COUNT=4
  LATENCY=(--height 256 --width 384 --warmup 0 --repeats 1)
  BATCHES=(1 2)
  BENCHMARK=(--warmup 1 --repetitions 3 --inner 1)
else
  JOBS=${ROISERVE_GPU_CHECK_JOBS:-16}
  DEVICE=cuda
  EMULATE=()
  EVAL_COUNT=200
  LATENCY=(--height 800 --width 1216 --warmup 3 --repeats 10)
  BATCHES=(1 8)
  BENCHMARK=(--warmup 5 --repetitions 15 --inner 10)
fi
# nvcc and compute-sanitizer where the CUDA toolkit is not on the PATH.
if ((!SMOKE)) && ! command -v nvcc >/dev/null && [[ -d /usr/local/cuda/bin ]]; then
  export PATH=$PATH:/usr/local/cuda/bin
fi
export REPO PY BUILD WORK LIB HOST_LIB DEVICE_CHECK SHAPES_MODEL MASKRCNN_MODEL SMOKE JOBS DEVICE
export EVAL_COUNT
export OMP_WAIT_POLICY=PASSIVE

rm -rf "$WORK"
mkdir -p "$WORK"
: >"$LOG"
START=$SECONDS
PARTS=$WORK/parts.tsv
: >"$PARTS"
FAILED=0

# run_part NAME CAP_S REQUIRED FUNCTION: runs FUNCTION (a part_* function,
# exported) under `timeout` for at most CAP_S or what is left of the budget,
# its output in logs.txt, and records its status. The function returns 0
# (passed), 3 (blocked: an input it needs is missing) or anything else (failed).
run_part() {
  local name=$1 cap=$2 required=$3 function=$4
  local left=$((BUDGET_S - (SECONDS - START)))
  local limit=$((cap < left ? cap : left))
  local status note="" begin=$SECONDS rc
  if ((limit < 15)); then
    status=skipped
    note="time budget spent"
  else
    printf '\n===== %s (limit %d s) =====\n' "$name" "$limit" >>"$LOG"
    timeout --kill-after=10 "$limit" bash -c "$function" >>"$LOG" 2>&1
    rc=$?
    case $rc in
      0) status=passed ;;
      3) status=blocked note="an input from an earlier part is missing" ;;
      124 | 137) status=timeout note="over its $limit s" ;;
      *) status=failed note="exit status $rc" ;;
    esac
  fi
  [[ $required == optional ]] && note="optional${note:+; $note}"
  printf '%s\t%s\t%d\t%d\t%s\n' "$name" "$status" $((SECONDS - begin)) "$limit" "$note" >>"$PARTS"
  printf '%-17s %-8s %4d s  %s\n' "$name" "$status" $((SECONDS - begin)) "$note"
  if [[ $status != passed && $required == required ]]; then FAILED=1; fi
}

need() {
  local path
  for path in "$@"; do
    if [[ ! -e $path ]]; then
      echo "missing $path"
      return 3
    fi
  done
}

part_environment() {
  {
    if ((SMOKE)); then echo "gpu=none (--cpu-smoke)"; else
      echo "gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
      echo "nvcc=$(nvcc --version | tail -n 1)"
      echo "compute_sanitizer=$(compute-sanitizer --version 2>/dev/null | tail -n 1)"
    fi
    echo "cmake=$(cmake --version | head -n 1)"
    echo "cpus=$(nproc)"
    "$PY" -c 'import platform, torch, torchvision
print("python=" + platform.python_version())
print("torch=" + torch.__version__ + " (CUDA " + str(torch.version.cuda) + ")")
print("torchvision=" + torchvision.__version__)'
  } | tee "$WORK/environment.txt"
  "$PY" -c 'import json, sys
pairs = (line.rstrip("\n").split("=", 1) for line in open(sys.argv[1]) if "=" in line)
json.dump(dict(pairs), open(sys.argv[2], "w"), indent=1)' "$WORK/environment.txt" \
    "$WORK/environment.json"
}

part_build() {
  # The LibTorch of the python that loads the libraries (where that torch
  # ships none, as Debian's, CMake finds the system's).
  local options=(-DCMAKE_BUILD_TYPE=Release -DROISERVE_BUILD_TESTS=OFF
    -DROISERVE_BUILD_BENCHMARKS=OFF
    "-DCMAKE_PREFIX_PATH=$("$PY" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')")
  local targets=(roiserve_ops roiserve-device-check)
  if ((SMOKE)); then
    options+=(-DROISERVE_CUDA=OFF -DROISERVE_CUDA_HOST_EMULATION=ON)
    targets+=(roiserve_cuda_host)
  else
    options+=(-DROISERVE_CUDA=ON -DROISERVE_CUDA_HOST_EMULATION=OFF)
  fi
  cmake -S "$REPO" -B "$BUILD" -G Ninja "${options[@]}" || return 1
  # -k 0: the ops still get built when the detector program fails, and the
  # other way round.
  ninja -C "$BUILD" -k 0 -j "$JOBS" "${targets[@]}"
}

# Seconds a part may spend in its checks: PART_LIMIT less $1 for start-up and
# reporting (at least 5).
check_seconds() {
  local seconds=$((PART_LIMIT - $1))
  echo $((seconds > 5 ? seconds : 5))
}

part_op_parity() {
  need "$LIB" || return 3
  "$PY" "$REPO/scripts/gpu/op_parity.py" --lib "$LIB" "${EMULATE[@]}" \
    --time-limit "$(check_seconds 20)" --json "$WORK/op_parity.json"
}

part_detector_eval() {
  need "$DEVICE_CHECK" || return 3
  "$DEVICE_CHECK" eval --model "$SHAPES_MODEL" --device cpu --threads "$(nproc)" \
    --count "$EVAL_COUNT" >"$WORK/eval_cpu.json" || return 1
  "$DEVICE_CHECK" eval --model "$SHAPES_MODEL" --device "$DEVICE" --count "$EVAL_COUNT" \
    >"$WORK/eval_device.json" || return 1
  local reference=()
  # The shipped report covers the whole validation set.
  ((EVAL_COUNT == 200)) && reference=(--reference "$SHAPES_MODEL/evaluation/report.json")
  "$PY" "$REPO/scripts/gpu/report.py" compare-ap "$WORK/eval_cpu.json" "$WORK/eval_device.json" \
    --tolerance 0.005 "${reference[@]}" >"$WORK/ap_comparison.json"
  local rc=$?
  cat "$WORK/ap_comparison.json"
  return "$rc"
}

latency() {
  local model=$1 name=$2 batch
  need "$DEVICE_CHECK" "$model" || return 3
  for batch in "${BATCHES[@]}"; do
    "$DEVICE_CHECK" latency --model "$model" --device "$DEVICE" --batch "$batch" \
      "${LATENCY[@]}" >"$WORK/latency_${name}_b$batch.json" || return 1
    cat "$WORK/latency_${name}_b$batch.json"
  done
}

part_latency_shapes() { latency "$SHAPES_MODEL" shapes-v1; }

part_benchmark() {
  need "$LIB" || return 3
  "$PY" "$REPO/benchmarks/compare_cuda_ops.py" --lib "$LIB" "${EMULATE[@]}" "${BENCHMARK[@]}" \
    --json "$WORK/benchmark.json"
}

# sanitize TOOL NAME CHECKS: op_parity.py --quick (the checks whose names
# contain one of CHECKS, or all) under compute-sanitizer TOOL; without a
# sanitizer (--cpu-smoke) the quick run alone.
sanitize() {
  local tool=$1 name=$2 only=$3 rc
  need "$LIB" || return 3
  local parity=("$PY" "$REPO/scripts/gpu/op_parity.py" --lib "$LIB" "${EMULATE[@]}" --quick
    --only "$only" --time-limit "$(check_seconds 40)" --json "$WORK/${name}_parity.json")
  if ((SMOKE)); then
    "${parity[@]}"
    rc=$?
    echo "{\"summary\": \"no compute-sanitizer in --cpu-smoke: the quick parity run alone\"}" \
      >"$WORK/$name.json"
    return "$rc"
  fi
  # Without PyTorch's caching allocator every tensor is its own allocation, so
  # that memcheck sees an access past its end.
  # --report-api-errors no: PyTorch polls streams and events, and their "not
  # ready" answers are no bugs; what counts is the kernels' memory accesses.
  PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool "$tool" --error-exitcode 1 \
    --report-api-errors no --print-limit 100 --log-file "$WORK/$name.log" "${parity[@]}"
  rc=$?
  head -c 200000 "$WORK/$name.log"
  "$PY" -c 'import json, re, sys
text = open(sys.argv[1], errors="replace").read()
summary = re.findall(r"(?:ERROR|RACECHECK) SUMMARY: [^\n]*", text)
json.dump({"summary": summary[-1] if summary else "no summary: the run did not finish",
           "exit_status": int(sys.argv[3])}, open(sys.argv[2], "w"))' \
    "$WORK/$name.log" "$WORK/$name.json" "$rc"
  return "$rc"
}

part_memcheck() { sanitize memcheck memcheck ""; }

part_racecheck() { sanitize racecheck racecheck "forward_vs_cpu,grad_vs_cpu"; }

part_maskrcnn_bundle() {
  need "$DEVICE_CHECK" || return 3
  "$PY" "$REPO/scripts/gpu/seeded_maskrcnn_bundle.py" --output "$MASKRCNN_MODEL" \
    --device-check "$DEVICE_CHECK"
}

part_latency_maskrcnn() {
  if ((SMOKE)); then BATCHES=(1); fi
  latency "$MASKRCNN_MODEL" maskrcnn_resnet50_fpn
}

export -f need check_seconds latency sanitize part_environment part_build part_op_parity \
  part_detector_eval part_latency_shapes part_benchmark part_memcheck part_racecheck \
  part_maskrcnn_bundle part_latency_maskrcnn
# Arrays do not cross `bash -c`: the parts rebuild them from these.
export EMULATE_LIB=${EMULATE[1]:-} LATENCY_ARGS="${LATENCY[*]}" BATCH_SIZES="${BATCHES[*]}"
export BENCHMARK_ARGS="${BENCHMARK[*]}"

# Each part with its cap in seconds, in the order of what matters most.
PART_CAPS=(
  "environment 30 required"
  "build 270 required"
  "op_parity 100 required"
  "detector_eval 120 required"
  "latency_shapes 60 required"
  "benchmark 60 required"
  "memcheck 120 required"
  "maskrcnn_bundle 60 required"
  "latency_maskrcnn 60 required"
  "racecheck 60 optional"
)
for entry in "${PART_CAPS[@]}"; do
  read -r name cap required <<<"$entry"
  left=$((BUDGET_S - (SECONDS - START)))
  export PART_LIMIT=$((cap < left ? cap : left))
  run_part "$name" "$cap" "$required" \
    "EMULATE=(\${EMULATE_LIB:+--emulate \"\$EMULATE_LIB\"}); LATENCY=(\$LATENCY_ARGS);
     BATCHES=(\$BATCH_SIZES); BENCHMARK=(\$BENCHMARK_ARGS); part_$name"
done

"$PY" "$REPO/scripts/gpu/report.py" summarize "$WORK" "$OUTDIR" ||
  echo "report.py summarize failed: see $WORK" >&2
# The device tool brings back files of at most 16 MiB.
if (($(stat -c %s "$LOG") > 15 * 1024 * 1024)); then
  tail -c $((15 * 1024 * 1024)) "$LOG" >"$LOG.tail" && mv "$LOG.tail" "$LOG"
fi
echo "gpu-check: $( ((FAILED)) && echo FAILED || echo passed) in $((SECONDS - START)) s;" \
  "$OUTDIR/summary.md"
exit $FAILED
