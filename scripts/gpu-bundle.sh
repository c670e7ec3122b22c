#!/usr/bin/env bash
# Builds what scripts/gpu-check.sh runs, for a GPU machine that has neither Go
# nor the CUDA toolkit (a lent one, say), into a folder (default .gpu-bundle,
# git-ignored): the CUDA test binary and the benchmark, stripped and
# xz-compressed (about 5 MB), and the commit they were built from. Build it
# here, carry the folder there with the working tree, and run there:
#
#   GPU_CHECK_BIN=.gpu-bundle scripts/gpu-check.sh [results-file]
#
# The binaries need there only the NVIDIA driver, cuBLAS 11 to 13 (loaded at
# run time) and, for PyTorch's side of the benchmark, python3 with torch.
#
#   scripts/gpu-bundle.sh [folder]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.gpu-bundle}
mkdir -p "$dir"
rm -f "$dir"/*.xz
# Link against the driver's stub where the machine has no driver.
export CGO_LDFLAGS="${CGO_LDFLAGS:-} -L/usr/lib/x86_64-linux-gnu/stubs"
go test -tags cuda -c -trimpath -ldflags='-s -w' -o "$dir/cuda.test" ./gpu/cuda
go build -tags cuda -trimpath -ldflags='-s -w' -o "$dir/bench" ./bench
xz -9 -f "$dir/cuda.test" "$dir/bench"
{ git rev-parse HEAD; git status --porcelain | sed 's/^/changed: /'; } >"$dir/commit"
ls -l "$dir"
