#!/bin/sh
# sass-stats.sh prints, for every kernel of kernels/*.ptx compiled for one GPU
# architecture by ptxas, its registers, its static SASS instruction count
# (without the NOP padding and the final self-branch) and the length of
# each loop in instructions (from a backward branch to its target), so that
# a kernel change can be judged without a GPU.
#
# Usage: sh scripts/sass-stats.sh [sm_XX] [kernel...]   (default: sm_90, all)
# Needs ptxas and cuobjdump (scripts/install-cuda-toolkit.sh).
set -eu
cd "$(dirname "$0")/../kernels"
arch=${1:-sm_90}
[ $# -gt 0 ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-22s %5s %7s  %s\n' kernel regs instrs "loops (instructions each)"
for ptx in *.ptx; do
	ptxas -arch="$arch" -v "$ptx" -o "$tmp/k.cubin" 2>"$tmp/ptxas.txt"
	cuobjdump -sass "$tmp/k.cubin" >"$tmp/sass.txt"
	awk -v want="$*" '
		BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
		FNR == NR {   # ptxas -v: "Compiling entry function NAME" then "Used N registers"
			if (match($0, /entry function .[A-Za-z0-9_]+/)) { f = substr($0, RSTART + 16, RLENGTH - 16) }
			if (match($0, /Used [0-9]+ registers/)) { regs[f] = substr($0, RSTART + 5, RLENGTH - 15) }
			next
		}
		/Function : / { flush(); fn = $3; count = 0; loops = ""; next }
		/^ +\/\*[0-9a-f]+\*\// {
			addr = hex(substr($1, 3, length($1) - 4))
			if ($0 ~ / NOP/) next
			if ($0 ~ / BRA 0x/) {
				match($0, / BRA 0x[0-9a-f]+/); t = hex(substr($0, RSTART + 7, RLENGTH - 7))
				if (t == addr) next   # the trailing self-loop
				if (t < addr) loops = loops " " ((addr - t) / 16 + 1)
			}
			count++
		}
		function hex(s,   v, i) {
			v = 0
			for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
			return v
		}
		function flush() {
			if (fn != "" && (n == 0 || fn in keep)) printf "%-22s %5s %7d %s\n", fn, regs[fn], count, loops
			fn = ""
		}
		END { flush() }
	' "$tmp/ptxas.txt" "$tmp/sass.txt"
done
