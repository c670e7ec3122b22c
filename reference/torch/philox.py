"""Philox4x32-10 and NormalAt in numpy, identical to backend/philox.go.

All arithmetic is on uint64 arrays masked to 32 bits, vectorised over counters.
"""

import numpy as np

_MASK = np.uint64(0xFFFFFFFF)
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_S32 = np.uint64(32)


def philox4x32(ctr, key):
    """ctr: four uint32-valued arrays (broadcastable), key: two. Returns the
    four output words as uint64 arrays holding 32-bit values."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) & _MASK for c in ctr)
    k0, k1 = (np.asarray(k, dtype=np.uint64) & _MASK for k in key)
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _S32) ^ c1 ^ k0, p1 & _MASK, (p0 >> _S32) ^ c3 ^ k1, p0 & _MASK)
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def normal_at(seed, idx):
    """float32 array of NormalAt(seed, i) for each i in idx (uint64 array)."""
    idx = np.asarray(idx, dtype=np.uint64)
    seed = np.uint64(seed)
    zero = np.zeros_like(idx)
    r0, r1, _, _ = philox4x32((idx & _MASK, idx >> _S32, zero, zero), (seed & _MASK, seed >> _S32))
    u1 = (r0.astype(np.float64) + 1.0) / 4294967296.0
    u2 = r1.astype(np.float64) / 4294967296.0
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(np.float32)


def normal(seed, offset, shape):
    """float32 array of the given shape, element i = NormalAt(seed, offset + i)."""
    n = int(np.prod(shape, dtype=np.int64))
    return normal_at(seed, np.arange(n, dtype=np.uint64) + np.uint64(offset)).reshape(shape)


def self_check():
    """Check the Random123 known-answer vectors (the ones in backend/philox_test.go)."""
    cases = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for ctr, key, want in cases:
        got = tuple(int(w) for w in philox4x32(ctr, key))
        if got != want:
            raise AssertionError(f"philox4x32({ctr}, {key}) = {[hex(g) for g in got]}, want {[hex(w) for w in want]}")
