#!/usr/bin/env bash
# README command (1): installs what is missing, builds, and runs roiserve.
# The gRPC service is not built yet; until it is, this runs what exists: the
# operator benchmark on the FPN workload, on every core.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh build
scripts/build.sh
exec build/benchmarks/roiserve_ops_bench --threads "$(nproc)" "$@"
