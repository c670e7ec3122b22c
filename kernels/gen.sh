#!/bin/sh
# gen.sh compiles every kernels/*.cu into <name>.ptx with nvcc, warnings as
# errors. Run through `go generate ./kernels`; kernels_test.go runs it with an
# output folder to check that the committed PTX is current.
#
# Usage: sh gen.sh [outdir]   (default: this folder)
set -eu
cd "$(dirname "$0")"
out=${1:-.}
if ! command -v nvcc >/dev/null 2>&1; then
	echo "gen.sh: nvcc not found on PATH; install the CUDA toolkit with scripts/install-cuda-toolkit.sh" >&2
	exit 1
fi
for ptx in "$out"/*.ptx; do
	# Drop the PTX of a deleted source.
	[ -e "$ptx" ] && [ ! -e "$(basename "${ptx%.ptx}").cu" ] && rm "$ptx"
done
for src in *.cu; do
	nvcc -ptx -arch=compute_70 -Werror all-warnings -o "$out/${src%.cu}.ptx" "$src"
done
