#!/usr/bin/env bash
# GPU checks for a machine with an NVIDIA GPU (no GPU has run this code yet:
# run this on the first one, commit its results file). In one go, in about
# 8 minutes on a current GPU:
#   1. the real driver's tests, the backend conformance suite and the
#      model-step suite (one step of every model against PyTorch) on the GPU;
#   2. the conformance suite under compute-sanitizer memcheck and racecheck,
#      where compute-sanitizer is installed;
#   3. 200 training steps of the default VAE-GAN on the CPU, on the GPU
#      replaying its CUDA graph and on the GPU op by op: the two GPU runs
#      must agree bit for bit, and the GPU's losses stay close to the CPU's;
#   4. the benchmark: the GPU (graph and op by op), the CPU where Go builds
#      here, and PyTorch, on the GPU where torch has CUDA.
# Everything goes to one results file (default bench/results/gpu-check.md).
# Each command has a time limit (LIMIT); together they come to 560 s, so one
# run fits in a 10-minute slot of a lent machine.
# Without a usable GPU it stops after building the CUDA test binary, says so
# in the results file and exits with status 2 (1: a check failed).
#
# It builds the binaries with Go and the CUDA toolkit, or takes them from
# GPU_CHECK_BIN, a folder that scripts/gpu-bundle.sh made on another machine
# (for a GPU machine without Go). PyTorch's side of the benchmark runs under
# the first of PYTHON, python3 and /usr/bin/python3 whose torch has CUDA.
#
#   scripts/gpu-check.sh [results-file]
set -uo pipefail
# The results file: a relative path is the caller's, made absolute before the cd.
out=$(realpath -m "${1:-$(dirname "$0")/../bench/results/gpu-check.md}")
bin=${GPU_CHECK_BIN:+$(realpath "$GPU_CHECK_BIN")}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
mkdir -p "$(dirname "$out")"

# cuBLAS: where the loader does not know one (CUDA 13's comes in a Python
# wheel on some machines), add the folder of the first found.
if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.1[123] '; then
	lib=$(find /usr /opt -name 'libcublas.so.1[123]' 2>/dev/null | head -1)
	[ -n "$lib" ] && export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

{
	echo "# GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo '```'
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
	if [ -n "$bin" ]; then
		echo "binaries from $GPU_CHECK_BIN, built from:"
		cat "$bin/commit"
	else
		nvcc --version 2>&1 | tail -1
		go version
		git rev-parse HEAD
	fi
	echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
	echo '```'
} >"$out" 2>&1

section() { printf '\n## %s\n\n```\n' "$1" >>"$out"; }
endsection() { printf '```\n' >>"$out"; }
run() { # run a command in $DIR (default: the repository root), its output into the results file, its status counted
	echo "\$ $*" >>"$out"
	(cd "${DIR:-.}" && timeout "${LIMIT:-300}" "$@") >>"$out" 2>&1
	local rc=$?
	echo "(exit status $rc)" >>"$out"
	[ $rc = 0 ] || failed=1
}
unxz() { # unpack a binary of the bundle into $tmp (python3's lzma: xz may be missing)
	python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' "$bin/$1.xz" >"$tmp/$1" &&
		chmod +x "$tmp/$1"
}

section "1. driver, conformance and model-step suites on the GPU"
if [ -n "$bin" ]; then
	unxz cuda.test && unxz bench
	built=$?
	bench=("$tmp/bench" -device cuda) # this machine's CPU side is not the one the figures compare
else
	go test -tags cuda -c -o "$tmp/cuda.test" ./gpu/cuda >>"$out" 2>&1
	built=$?
	bench=(go run -tags cuda ./bench -device all)
fi
if [ $built != 0 ]; then
	printf '```\n\n**The binaries did not build or unpack: nothing was checked.**\n' >>"$out"
	echo "the binaries did not build or unpack: see $out" >&2
	exit 1
fi
# The binary's first act is to look for a GPU (package gpu/cudaprobe).
if ! probe=$("$tmp/cuda.test" -test.run '^$' 2>&1); then
	printf '%s\n```\n\n**No usable GPU here: nothing was checked.** Run this script on a machine with an NVIDIA GPU and its driver.\n' "$probe" >>"$out"
	echo "no usable GPU here, nothing was checked: see $out" >&2
	exit 2
fi
# the GPU and the cuBLAS library in use, as TestDriver logs them
DIR=gpu/cuda LIMIT=20 run "$tmp/cuda.test" -test.count=1 -test.run '^TestDriver$/^$' -test.v
DIR=gpu/cuda LIMIT=120 run "$tmp/cuda.test" -test.count=1 -test.skip '^TestTrainingRunMatchesCPU$'
endsection

section "2. compute-sanitizer (memcheck, racecheck) on the conformance suite"
if command -v compute-sanitizer >/dev/null; then
	sanitizer=(compute-sanitizer)
	# Debian's toolkit keeps the sanitizer's libraries where its compute-sanitizer
	# does not look ("Unable to find injection library").
	debian=/usr/lib/nvidia-cuda-toolkit/compute-sanitizer
	if [ "$(command -v compute-sanitizer)" = /usr/bin/compute-sanitizer ] && [ -d "$debian" ]; then
		sanitizer+=(--injection-path "$debian")
	fi
	for tool in memcheck racecheck; do
		DIR=gpu/cuda LIMIT=75 run "${sanitizer[@]}" --tool "$tool" --error-exitcode 1 "$tmp/cuda.test" -test.run '^TestBackend$' -test.count=1
	done
else
	echo "compute-sanitizer not installed: skipped" >>"$out"
fi
endsection

section "3. 200 training steps: CPU, GPU (CUDA graph), GPU (op by op)"
DIR=gpu/cuda LIMIT=120 run "$tmp/cuda.test" -test.count=1 -test.run '^TestTrainingRunMatchesCPU$' -test.v
endsection

section "4. benchmark: GPU, CPU, PyTorch"
torchdev=cpu python=/usr/bin/python3
for p in ${PYTHON:-} python3 /usr/bin/python3; do
	if "$p" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
		torchdev=cuda python=$(command -v "$p")
		break
	fi
done
LIMIT=150 run "${bench[@]}" -arch all -torch-device "$torchdev" -python "$python" -out "$tmp/bench"
endsection

echo >>"$out"
[ $failed = 0 ] && echo "All checks passed." >>"$out" || echo "**Some checks failed: see above.**" >>"$out"
echo "results in $out"
exit $failed
