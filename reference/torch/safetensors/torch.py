"""`load_file` with the real `safetensors.torch` library's behaviour on dtypes.

The real library maps each safetensors dtype to the torch dtype of the same
meaning and fails on one the installed torch lacks: torch has no uint16,
uint32 or uint64 before 2.3, so on Debian 12's torch 1.13 a U64 tensor
cannot be loaded at all. This reader refuses what the real one refuses; it
exists so that tests exercise the README's snippet against the PyTorch
people have.
"""

import json
import struct

import torch

_BY_NAME = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
    "U16": "uint16", "U32": "uint32", "U64": "uint64",
}


def _torch_dtype(name, dtype):
    attr = _BY_NAME.get(dtype)
    if attr is None or not hasattr(torch, attr):
        raise TypeError(f"tensor {name}: dtype {dtype} has no torch dtype in torch {torch.__version__}")
    return getattr(torch, attr)


def load_file(filename, device="cpu"):
    """Return {name: tensor} for every tensor of the file."""
    with open(filename, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    buf = raw[8 + n:]
    out = {}
    for name, d in header.items():
        dt = _torch_dtype(name, d["dtype"])
        b, e = d["data_offsets"]
        t = torch.frombuffer(bytearray(buf[b:e]), dtype=dt) if e > b else torch.empty(0, dtype=dt)
        out[name] = t.reshape(d["shape"]).to(device)
    return out
