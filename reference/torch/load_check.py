"""Check that one of our checkpoints loads into the PyTorch reference nets.

Usage: /usr/bin/python3 reference/torch/load_check.py CKPT

Reads the safetensors file CKPT, takes the architecture and model from its
metadata ("arch": mnist | celeba64, "model": vae | gan | vaegan | vaegan3),
builds the nets, loads the tensors named enc.*, dec.*, dis.* into them with
load_state_dict(strict=True) (other tensors, such as optimizer state, are
ignored), runs the decoder in eval mode on a fixed z and prints
"ok <n> tensors". Exits with status 1 and a message naming the problem otherwise.
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import nets  # noqa: E402
import safetensors_io  # noqa: E402


def check(path):
    tensors, meta = safetensors_io.read(path)
    arch, model = meta.get("arch"), meta.get("model")
    if arch is None or model is None:
        raise ValueError(f"{path}: metadata lacks \"arch\" or \"model\" (has {sorted(meta)})")
    built = nets.build(arch, model)
    n = 0
    for prefix, net in built.items():
        sd = {k[len(prefix) + 1:]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith(prefix + ".")}
        if not sd:
            raise ValueError(f"{path}: model {model} needs the {prefix} net, but no tensor is named {prefix}.*")
        try:
            net.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            raise ValueError(f"{path}: the {prefix} tensors do not match the {arch} {model} nets: {e}") from None
        n += len(sd)
    for k in tensors:
        net = k.split(".", 1)[0]
        if net in ("enc", "dec", "dis") and net not in built:
            raise ValueError(f"{path}: tensor {k} belongs to no net of model {model}")
    dec = built["dec"].eval()
    z = torch.linspace(-2, 2, 2 * nets.ARCHS[arch]["latent"]).reshape(2, -1)
    with torch.no_grad():
        x = dec(z)
    a = nets.ARCHS[arch]
    want = (2, a["channels"], a["size"], a["size"])
    if tuple(x.shape) != want or not torch.isfinite(x).all():
        raise ValueError(f"{path}: decoder output has shape {tuple(x.shape)} (want {want}) "
                         f"or non-finite values")
    return n


def main():
    if len(sys.argv) != 2:
        print("usage: load_check.py CKPT", file=sys.stderr)
        sys.exit(2)
    try:
        n = check(sys.argv[1])
    except (OSError, ValueError) as e:
        print(f"load_check: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"ok {n} tensors")


if __name__ == "__main__":
    main()
