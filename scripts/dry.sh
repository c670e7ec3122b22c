#!/usr/bin/env bash
# GPU checks for a machine with an NVIDIA GPU, the CUDA toolkit and Go (no GPU
# has run this code yet: run this on the first one, commit its results file).
# In one go, under about 8 minutes on a current GPU:
#   1. the real driver's tests, the backend conformance suite and the
#      model-step suite (one step of every model against PyTorch) on the GPU;
#   2. the conformance suite under compute-sanitizer memcheck and racecheck,
#      where compute-sanitizer is installed;
#   3. 200 training steps with -device cuda against the same 200 on the CPU
#      (the losses' largest relative difference per column);
#   4. the benchmark: CPU, GPU and, where torch has CUDA, PyTorch on the GPU.
# Everything goes to one results file (default bench/results/gpu-check.md).
# Without a usable GPU it stops after building the CUDA test binary, says so
# in the results file and exits with status 2 (1: a check failed).
#
# PyTorch's side of the benchmark runs on the GPU where PYTHON (or python3, or
# /usr/bin/python3) has a CUDA build of torch, on the CPU otherwise.
#
#   scripts/gpu-check.sh [results-file]
set -uo pipefail
# The results file: a relative path is the caller's, made absolute before the cd.
out=$(realpath -m "${1:-$(dirname "$0")/../bench/results/gpu-check.md}")
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
mkdir -p "$(dirname "$out")"
{
	echo "# GPU check, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo '```'
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
	nvcc --version 2>&1 | tail -1
	go version
	git rev-parse HEAD
	echo '```'
} >"$out"

section() { printf '\n## %s\n\n```\n' "$1" >>"$out"; }
endsection() { printf '```\n' >>"$out"; }
run() { # run a command in $DIR (default: the repository root), its output into the results file, its status counted
	echo "\$ $*" >>"$out"
	(cd "${DIR:-.}" && timeout "${LIMIT:-300}" "$@") >>"$out" 2>&1
	local rc=$?
	echo "(exit status $rc)" >>"$out"
	[ $rc = 0 ] || failed=1
}

section "1. driver, conformance and model-step suites on the GPU"
if ! go test -tags emugpu -c -o "$tmp/cuda.test" ./gpu/emu >>"$out" 2>&1; then
	printf '```\n\n**The CUDA test binary did not build: nothing was checked.**\n' >>"$out"
	echo "the CUDA test binary did not build: see $out" >&2
	exit 1
fi
# The binary's first act is to look for a GPU (package gpu/cudaprobe).
if ! probe=$("$tmp/cuda.test" -test.run '^$' 2>&1); then
	printf '%s\n```\n\n**No usable GPU here: nothing was checked.** Run this script on a machine with an NVIDIA GPU and its driver.\n' "$probe" >>"$out"
	echo "no usable GPU here, nothing was checked: see $out" >&2
	exit 2
fi
DIR=gpu/emu LIMIT=240 run "$tmp/cuda.test" -test.count=1 -test.run "TestDriver$"
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
		DIR=gpu/emu LIMIT=150 run "${sanitizer[@]}" --tool "$tool" --error-exitcode 1 "$tmp/cuda.test" -test.run '^TestBackend$' -test.count=1 -test.run "TestDriver$"
	done
else
	echo "compute-sanitizer not installed: skipped" >>"$out"
fi
endsection

section "3. 200 steps, -device cuda against -device cpu"
go build -tags emugpu -o "$tmp/trainer" ./cmd/trainer >>"$out" 2>&1 || failed=1
for dev in cpu cuda; do
	LIMIT=200 run "$tmp/trainer" train -device "$dev" -steps 30 -log-every 10 -eval-every -1 -sample-every 30 -out "$tmp/run-$dev"
done
# the same GPU run op by op, without the CUDA graph: its speed against the graph's
LIMIT=60 run "$tmp/trainer" train -device cuda -cuda-graphs=false -steps 30 -log-every 10 -eval-every -1 -sample-every 30 -out "$tmp/run-cuda-op"
python3 - "$tmp/run-cpu/losses.csv" "$tmp/run-cuda/losses.csv" "$tmp/run-cuda-op/losses.csv" >>"$out" 2>&1 <<'PY' || failed=1
import csv, sys
cpu = list(csv.DictReader(open(sys.argv[1])))
gpu = list(csv.DictReader(open(sys.argv[2])))
gpu_op = list(csv.DictReader(open(sys.argv[3])))
assert len(cpu) == len(gpu), "different numbers of logged steps"
print("largest relative difference of each loss over the logged steps (cuda against cpu):")
for col in cpu[0]:
    if col in ("step", "epoch", "images_per_sec"):
        continue
    worst = max(abs(float(g[col]) - float(c[col])) / max(abs(float(c[col])), 1e-6) for c, g in zip(cpu, gpu))
    print(f"  {col:10s} {worst:.3g}")
ips = lambda rows: sum(float(r["images_per_sec"]) for r in rows[-2:]) / 2
print(f"images/s over the last 50 steps: cpu {ips(cpu):.0f}, cuda {ips(gpu):.0f} (CUDA graph), {ips(gpu_op):.0f} (op by op)")
same = all(g[k] == o[k] for g, o in zip(gpu, gpu_op) for k in g if k != "images_per_sec")
print("losses of the CUDA-graph run and the op-by-op run:", "the same" if same else "DIFFERENT")
assert same, "replayed steps must match op-by-op steps bit for bit"
PY
endsection

section "4. benchmark: CPU, GPU, PyTorch"
torchdev=cpu python=/usr/bin/python3
for p in ${PYTHON:-} python3 /usr/bin/python3; do
	if "$p" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
		torchdev=cuda python=$(command -v "$p")
		break
	fi
done
LIMIT=240 run go run -tags emugpu ./bench -device all -arch mnist -model vaegan -steps 2 -rounds 1 -ops=false -torch-device "$torchdev" -python "$python" -out "$tmp/bench"
cat "$tmp/bench/bench.md" >>"$out" 2>/dev/null
endsection

echo >>"$out"
[ $failed = 0 ] && echo "All checks passed." >>"$out" || echo "**Some checks failed: see above.**" >>"$out"
echo "results in $out"
exit $failed
