#!/bin/sh
# install-cuda-toolkit.sh installs Debian's CUDA toolkit (nvcc, cuda.h,
# cublas_v2.h and the link stubs) so that `go generate ./kernels` and
# `go build -tags cuda ./...` work on a machine without a GPU.
#
# It adds the contrib and non-free components for the same URIs and suites as
# /etc/apt/sources.list.d/debian.sources, then installs nvidia-cuda-toolkit
# (about 1.6 GB download, 5.5 GB on disk). Running it again does nothing new.
# Run as root.
set -eu

if command -v nvcc >/dev/null 2>&1; then
	echo "nvcc already installed: $(command -v nvcc)"
	exit 0
fi

main=/etc/apt/sources.list.d/debian.sources
extra=/etc/apt/sources.list.d/debian-contrib-non-free.sources
if [ ! -r "$main" ]; then
	echo "install-cuda-toolkit.sh: $main not found; expected Debian's deb822 sources file" >&2
	exit 1
fi

if [ ! -e "$extra" ]; then
	# Copy every stanza of the main file, replacing its Components line.
	awk '
		/^Components:/ { print "Components: contrib non-free"; next }
		/^#/ { next }
		{ print }
	' "$main" >"$extra.tmp"
	mv "$extra.tmp" "$extra"
	echo "wrote $extra"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends nvidia-cuda-toolkit
nvcc --version
