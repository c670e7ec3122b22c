#!/usr/bin/python3
"""Regenerate fixtures.json for the quality package's tests.

Run with Debian's interpreter, which has numpy and scipy:

    /usr/bin/python3 quality/testdata/make_fixtures.py

Every expected value is computed here independently of the Go code, with
numpy/scipy (scipy.linalg.sqrtm, scipy.signal.convolve2d, scipy.special,
scipy.stats, brute-force numpy distances).

Inputs are stored compactly and exactly: an array is quantised to integers
q (int16) with a power-of-two scale, stored as base64 of little-endian int16,
and stands for the values q * 2**-shift. Such values are exactly
representable in float32, so the Go tests see exactly the numbers that the
expectations below were computed from (in float64).
"""

import base64
import json
import os

import numpy as np
import scipy
import scipy.linalg
import scipy.signal
import scipy.special
import scipy.stats

rng = np.random.default_rng(20240613)


def quant(a, shift):
    """Quantise a to multiples of 2**-shift; return (stored dict, exact float64 values)."""
    q = np.round(np.asarray(a, dtype=np.float64) * 2.0**shift)
    assert np.all(np.abs(q) <= 32767), "value out of int16 range"
    q = q.astype("<i2")
    stored = {"shift": shift, "shape": list(q.shape), "b64": base64.b64encode(q.tobytes()).decode()}
    return stored, q.astype(np.float64) / 2.0**shift


def correlated(n, d, mean_shift, scale):
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    z = rng.normal(size=(n, d))
    return z @ (a * scale + np.eye(d)) + mean_shift


# ---------------------------------------------------------------- Fréchet
def frechet_case(name, n, d, shift_b, scale_b):
    sa, a = quant(correlated(n, d, 0.0, 1.0), 10)
    sb, b = quant(correlated(n, d, shift_b, scale_b), 10)
    m1, m2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(c1 @ c2)
    covmean = np.real(covmean)  # discards round-off imaginary parts
    fd = float(np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.trace(covmean))
    # Cross-check with an eigh-based form (not what Go is tested against).
    w, v = np.linalg.eigh(c1)
    s1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    mu = np.linalg.eigvalsh(s1 @ c2 @ s1)
    fd2 = float(np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2 * np.sum(np.sqrt(np.clip(mu, 0, None))))
    print(f"frechet {name}: fd={fd:.12g} (sqrtm vs eigh rel diff {abs(fd - fd2) / fd:.2e})")
    case = {"name": name, "n": n, "d": d, "a": sa, "b": sb, "fd": fd}
    if d <= 8:
        case["mean_a"] = m1.tolist()
        case["cov_a"] = c1.ravel().tolist()
    return case


frechet = [
    frechet_case("n500_d8", 500, 8, 0.3, 0.5),
    frechet_case("n150_d64", 150, 64, 0.1, 0.3),
]


# ---------------------------------------------------------------- KID
def poly_kernel(x, y):
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** 3


def mmd2_unbiased(x, y):
    m = x.shape[0]
    kxx, kyy, kxy = poly_kernel(x, x), poly_kernel(y, y), poly_kernel(x, y)
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(sxx + syy - 2 * kxy.mean())


def kid_case(name, n, d, shift, scale):
    sx, x = quant(rng.normal(size=(n, d)), 10)
    sy, y = quant(rng.normal(size=(n, d)) * scale + shift, 10)
    v = mmd2_unbiased(x, y)
    print(f"kid {name}: mmd2={v:.12g}")
    return {"name": name, "n": n, "d": d, "x": sx, "y": sy, "mmd2": v}


kid = [
    kid_case("n200_d16", 200, 16, 0.2, 1.1),
    kid_case("n80_d64_same", 80, 64, 0.0, 1.0),
]


# ---------------------------------------------------------------- precision / recall
def pdist(a, b):
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def pr_case(name, nr, nf, d, k, shift, scale):
    sr, r = quant(rng.normal(size=(nr, d)), 10)
    sf, f = quant(rng.normal(size=(nf, d)) * scale + shift, 10)
    drr = pdist(r, r)
    np.fill_diagonal(drr, np.inf)
    dff = pdist(f, f)
    np.fill_diagonal(dff, np.inf)
    rad_r = np.sort(drr, axis=1)[:, k - 1]
    rad_f = np.sort(dff, axis=1)[:, k - 1]
    dfr = pdist(f, r)  # nf x nr
    fake_in = (dfr <= rad_r[None, :]).any(1)
    real_in = (dfr.T <= rad_f[None, :]).any(1)
    # Smallest relative gap between a distance and a radius it is compared
    # with: the fixture is only meaningful if no comparison is a near tie.
    gap = min(np.min(np.abs(dfr - rad_r[None, :]) / rad_r[None, :]),
              np.min(np.abs(dfr - rad_f[:, None]) / rad_f[:, None]))
    print(f"pr {name}: precision={fake_in.mean():.4f} recall={real_in.mean():.4f} min rel gap {gap:.2e}")
    assert gap > 1e-7
    return {"name": name, "nr": nr, "nf": nf, "d": d, "k": k, "real": sr, "fake": sf,
            "fake_inside": int(fake_in.sum()), "real_inside": int(real_in.sum()),
            "radii_real": rad_r.tolist()[:20]}


pr = [
    pr_case("nr300_nf250_d8_k3", 300, 250, 8, 3, 0.5, 1.3),
    pr_case("nr150_nf170_d32_k5", 150, 170, 32, 5, 0.0, 0.85),
    pr_case("nr120_nf100_d4_k1", 120, 100, 4, 1, -0.3, 1.0),
]


# ---------------------------------------------------------------- class statistics
def classes_case(name, n, k, min_share):
    bias = np.linspace(2.0, -2.5, k)
    logits = rng.normal(size=(n, k)) * 2.0 + bias
    sp, p = quant(scipy.special.softmax(logits, axis=1), 15)
    arg = np.argmax(p, axis=1)
    shares = np.bincount(arg, minlength=k) / n
    covered = int(np.sum(shares >= min_share))
    entropy = float(scipy.stats.entropy(shares))
    py = p.mean(0)
    score = float(np.exp(scipy.special.rel_entr(p, py[None, :]).sum(1).mean()))
    labels = rng.integers(0, k, size=n)
    # Make about half the labels agree with the argmax.
    agree_mask = rng.random(n) < 0.5
    labels[agree_mask] = arg[agree_mask]
    agreement = float(np.mean(arg == labels))
    print(f"classes {name}: covered={covered} entropy={entropy:.6f} score={score:.6f} agreement={agreement}")
    return {"name": name, "n": n, "k": k, "min_share": min_share, "probs": sp,
            "shares": shares.tolist(), "covered": covered, "entropy": entropy, "score": score,
            "labels": labels.tolist(), "agreement": agreement}


classes = [classes_case("n500_k10", 500, 10, 0.05)]


# ---------------------------------------------------------------- images
def smooth_images(n, c, h, w):
    x = rng.uniform(-1, 1, size=(n, c, h, w))
    # Add some structure so SSIM/Laplacian are not pure noise statistics.
    yy, xx = np.mgrid[0:h, 0:w]
    x += 0.5 * np.sin(xx / 3.0 + yy / 5.0)[None, None]
    return np.clip(x, -1, 1)


LAPLACE = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)


def sharpness_ref(imgs):
    per = []
    for im in imgs:
        resp = np.concatenate([scipy.signal.convolve2d(ch, LAPLACE, mode="valid").ravel() for ch in im])
        per.append(np.var(resp))
    return float(np.mean(per))


def gauss_window(size=11, sigma=1.5):
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-x**2 / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def ssim_ref(a, b, data_range):
    win = gauss_window()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    vals = []
    for ia, ib in zip(a, b):
        for pa, pb in zip(ia, ib):
            f = lambda z: scipy.signal.convolve2d(z, win, mode="valid")
            ma, mb = f(pa), f(pb)
            va = f(pa * pa) - ma**2
            vb = f(pb * pb) - mb**2
            cab = f(pa * pb) - ma * mb
            s = (2 * ma * mb + c1) * (2 * cab + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
            vals.append(s.ravel())
    return float(np.mean(np.concatenate(vals)))


n, c, h, w = 3, 2, 20, 17
sa, ia = quant(smooth_images(n, c, h, w), 14)
noisy = np.clip(ia + rng.normal(scale=0.2, size=ia.shape), -1, 1)
sb, ib = quant(noisy, 14)
ssim = {"n": n, "c": c, "h": h, "w": w, "a": sa, "b": sb, "data_range": 2.0,
        "ssim": ssim_ref(ia, ib, 2.0), "mse": float(np.mean((ia - ib) ** 2))}
print(f"ssim: {ssim['ssim']:.12g} mse {ssim['mse']:.12g}")

n, c, h, w = 4, 3, 12, 10
ss, si = quant(smooth_images(n, c, h, w), 14)
sharp = {"n": n, "c": c, "h": h, "w": w, "images": ss, "sharpness": sharpness_ref(si)}
# Cross-check against scipy.ndimage.laplace on the interior.
import scipy.ndimage  # noqa: E402
alt = np.mean([np.var(np.concatenate([scipy.ndimage.laplace(ch)[1:-1, 1:-1].ravel() for ch in im])) for im in si])
print(f"sharpness: {sharp['sharpness']:.12g} (ndimage rel diff {abs(alt - sharp['sharpness']) / alt:.1e})")

out = {
    "generator": "quality/testdata/make_fixtures.py",
    "numpy": np.__version__, "scipy": scipy.__version__,
    "frechet": frechet, "kid": kid, "pr": pr, "classes": classes,
    "ssim": ssim, "sharpness": sharp,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.json")
with open(path, "w") as fh:
    json.dump(out, fh, indent=1)
    fh.write("\n")
print(f"wrote {path}: {os.path.getsize(path)} bytes")
