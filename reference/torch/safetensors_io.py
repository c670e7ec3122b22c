"""Minimal safetensors reader and writer (numpy arrays), for the reference scripts.

Layout: an 8-byte little-endian u64 header length N, N bytes of JSON
{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [b, e]}}
padded with spaces to a multiple of 8, then the data buffer (little-endian,
row-major). Supported dtypes: F32, F64, I64, U64.
"""

import json
import struct

import numpy as np

_DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8"), "I64": np.dtype("<i8"), "U64": np.dtype("<u8")}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read(path):
    """Return (tensors, metadata): an insertion-ordered dict name -> numpy array
    (in file order) and the metadata dict. Raises ValueError on a malformed file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for a safetensors header")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(raw)} bytes)")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", {}) or {}
    buf = memoryview(raw)[8 + n:]
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    tensors = {}
    end_prev = 0
    for name, d in entries:
        dt = d.get("dtype")
        if dt not in _DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt!r} (supported: {', '.join(_DTYPES)})")
        shape = [int(s) for s in d["shape"]]
        b, e = d["data_offsets"]
        count = int(np.prod(shape, dtype=np.int64))
        if b != end_prev or e - b != count * _DTYPES[dt].itemsize or e > len(buf):
            raise ValueError(f"{path}: tensor {name}: data_offsets [{b}, {e}] do not fit shape {shape} of {dt} "
                             f"after offset {end_prev} in a buffer of {len(buf)} bytes")
        tensors[name] = np.frombuffer(buf[b:e], dtype=_DTYPES[dt]).reshape(shape).copy()
        end_prev = e
    if end_prev != len(buf):
        raise ValueError(f"{path}: {len(buf) - end_prev} trailing bytes after the last tensor")
    return tensors, meta


def write(path, tensors, metadata=None):
    """Write tensors (an ordered mapping name -> numpy array of a supported
    dtype) and string metadata to path, in the mapping's order."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    off = 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = a.dtype.newbyteorder("<")
        if dt not in _NAMES:
            raise ValueError(f"{path}: tensor {name}: unsupported numpy dtype {a.dtype}")
        data = a.astype(dt).tobytes()
        header[name] = {"dtype": _NAMES[dt], "shape": list(a.shape), "data_offsets": [off, off + len(data)]}
        chunks.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)
