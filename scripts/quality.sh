#!/usr/bin/env bash
# Reproduces docs/quality.md: trains vae, gan, vaegan and vaegan3 on MNIST
# (embedded) and Fashion-MNIST (Debian's dataset-fashion-mnist) with the same
# budget and every other flag at its default, measures each with
# `trainer eval` (10,000 prior samples, the 10,000 test images reconstructed),
# writes sample and reconstruction grids, and prints the table as Markdown.
#
#   scripts/quality.sh [out-folder] [steps] [seeds...]     (defaults: quality-runs 3500 1)
#
# About 50 minutes on 2 cores for one seed. A run that already holds its
# checkpoint is not retrained, nor one with its evaluation re-evaluated, so
# two copies can share the work: MODELS and
# DATASETS (space-separated) restrict a copy to some models or datasets, and
# TABLE=0 skips the table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-quality-runs}
steps=${2:-3500}
shift $(( $# > 2 ? 2 : $# ))
seeds=("${@:-1}")
mkdir -p "$out"
t="$out/trainer"
[ -x "$t" ] || go build -o "$t" ./cmd/trainer
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
datasets=(mnist)
if [ -f "$fashion" ]; then datasets+=(fashion-mnist); else echo "no $fashion (apt-get install dataset-fashion-mnist): MNIST only" >&2; fi
[ -z "${DATASETS:-}" ] || read -ra datasets <<<"$DATASETS"
models=(vae gan vaegan vaegan3)
[ -z "${MODELS:-}" ] || read -ra models <<<"$MODELS"
for ds in "${datasets[@]}"; do
	data=""
	[ "$ds" = fashion-mnist ] && data=$fashion
	for seed in "${seeds[@]}"; do
		for m in "${models[@]}"; do
			run="$out/$ds-$m-s$seed"
			if [ ! -f "$run/checkpoint.safetensors" ]; then
				rm -rf "$run"
				echo "training $run" >&2
				"$t" train -model "$m" -data "$data" -steps "$steps" -seed "$seed" -eval-every -1 \
					-sample-every "$steps" -ckpt-every "$steps" -out "$run" 2>"$run.log"
			fi
			if [ ! -f "$run/eval.json" ]; then
				"$t" eval -ckpt "$run/checkpoint.safetensors" -json >"$run/eval.json.tmp"
				mv "$run/eval.json.tmp" "$run/eval.json"
				"$t" sample -ckpt "$run/checkpoint.safetensors" -n 64 -seed 3 -out "$run/samples.png"
				[ "$m" = gan ] || "$t" reconstruct -ckpt "$run/checkpoint.safetensors" -data "$data" -n 32 -out "$run/recon.png"
			fi
		done
	done
done
[ "${TABLE:-1}" = 1 ] || exit 0
/usr/bin/python3 - "$out" <<'PY'
import json, sys, glob, os
out = sys.argv[1]
print("| data | model | seed | Fréchet ↓ | KID ↓ | precision | recall | classes ≥2% | class entropy | sharpness | label agreement | recon SSIM | recon MSE |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for path in sorted(glob.glob(os.path.join(out, "*", "eval.json"))):
    run = os.path.basename(os.path.dirname(path))
    parts = run.rsplit("-", 2)
    ds, m, seed = parts[0], parts[1], parts[2][1:]
    r = json.load(open(path))
    rec = lambda k, f: (f % r[k]) if r.get("has_recon") else "–"
    print(f"| {ds} | {m} | {seed} | {r['frechet']:.1f} | {r['kid']:.4f} | {r['precision']:.3f} | {r['recall']:.3f} | "
          f"{r['classes_covered']} | {r['class_entropy']:.3f} | {r['sharpness']:.2f} | {rec('label_agreement', '%.3f')} | "
          f"{rec('recon_ssim', '%.3f')} | {rec('recon_mse', '%.4f')} |")
PY
