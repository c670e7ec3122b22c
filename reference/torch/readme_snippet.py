"""Run the README's checkpoint-loading snippet as written.

Usage: /usr/bin/python3 reference/torch/readme_snippet.py README.md CKPT

Takes the first ```python block of README.md, points it at CKPT instead of
run/checkpoint.safetensors, defines `decoder` (the reference decoder of the
checkpoint's architecture) and runs it with `safetensors.torch.load_file`
(the stand-in beside this file, with the real library's dtype rules).
Prints "ok" when the snippet ran and the decoder holds the file's weights.
"""

import os
import re
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

import nets  # noqa: E402
import safetensors_io  # noqa: E402


def main(readme, ckpt):
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"```python\n(.*?)```", text, re.S)
    if m is None:
        sys.exit(f"{readme}: no ```python block")
    snippet = m.group(1).replace("run/checkpoint.safetensors", ckpt)
    _, meta = safetensors_io.read(ckpt)
    decoder = nets.build(meta["arch"], meta["model"])["dec"]
    env = {"decoder": decoder}
    exec("from safetensors.torch import load_file\n" + snippet, env)
    tensors, _ = safetensors_io.read(ckpt)
    for k, v in decoder.state_dict().items():
        if not torch.equal(v, torch.from_numpy(tensors["dec." + k])):
            sys.exit(f"after the snippet, decoder.{k} differs from the file's dec.{k}")
    print("ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
