"""Write the training-trajectory fixtures reference/torch/fixtures/mnist_<model>_trajectory.safetensors.

Run from anywhere: /usr/bin/python3 reference/torch/make_trajectory.py
(~2 minutes on one core). Deterministic: the same torch version writes the
same bytes.

STEPS training steps of the mnist VAE-GAN with the equilibrium rule on, as
model.Trainer.Step does them: one nets.vaegan_step for the losses and each
net's gradients, the rule (model/trainer.go result()) on the step's L_dis
terms, then torch.optim.Adam on the encoder always and on the decoder and the
discriminator when the rule says so. Everything is computed in float64 from
the float32 initial weights, images and noise: the reference a float32
trainer's run strays from only by its rounding.

Weights: make_fixtures.init_params (InitRule{7, 0.05, biases}). Data: the first
BATCH·BATCHES MNIST training images, x/127.5 − 1, cycled: step k takes batch
k mod BATCHES. Noise: as the Go trainer's counter runs, step k draws
eps[i] = NormalAt(seed, 2k·B·L + i), then z_p[i] = NormalAt(seed, (2k+1)·B·L + i),
seed = NOISE_SEEDS[model].

The rule compares dis_real and dis_fake with EQUILIBRIUM ± MARGIN at every
step. A value that passed a threshold by less than float32 rounding could flip
an update in the Go trainer, and from there the two runs part; the script
refuses a seed whose trajectory comes closer than THRESH_MARGIN to flipping an
update (see the constant's comment for the figures behind it).
"""

import os
import sys
import time
from collections import OrderedDict

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_fixtures  # noqa: E402
import nets  # noqa: E402
import philox  # noqa: E402
import safetensors_io  # noqa: E402

COMMAND = "/usr/bin/python3 reference/torch/make_trajectory.py"
D = torch.float64

STEPS, BATCH, BATCHES, LATENT = 300, 8, 16, 32
GAMMA, BETA = make_fixtures.GAMMA, make_fixtures.BETA
WEIGHT_SEED = make_fixtures.WEIGHT_SEED  # init_params draws with it
# The rule's centre and default margin (model/trainer.go); Adam as
# model/optim.go (torch's defaults but for lr and beta1).
EQUILIBRIUM, MARGIN = 0.68, 0.35
LR, BETAS, ADAM_EPS = 2e-4, (0.5, 0.999), 1e-8
# A float32 run's dis_real and dis_fake stray from this float64 trajectory by
# up to ~3.5e-3 once rounding has grown, from step ~25 on (measured on this
# fixture: the Go CPU backend 2.8e-3, PyTorch's own float32 run 2.3e-3; on a
# 4-batch trajectory, 3.6e-3; see model/trajectory_test.go), so no step's
# decision may lie closer than THRESH_MARGIN to flipping. Here the
# discriminator is updated only when a step's dis_real and dis_fake both reach
# the lower threshold; after an update they drop well below it and creep back
# up, one batch of the cycle leading by a little at each of its visits. A
# long cycle (BATCHES = 16) makes those visits coarser: with 4 batches, noise
# seeds 101 to 124 all came within 6e-3 (101 within 7.7e-4, 106 kept 3.5e-3).
# The seed is the first from 101 up that keeps THRESH_MARGIN (8.8e-3).
NOISE_SEEDS = {"vaegan": 110}
THRESH_MARGIN = 6e-3


def flags(real, fake):
    """(update_dis, update_dec) of model/trainer.go result()."""
    lo, hi = EQUILIBRIUM - MARGIN, EQUILIBRIUM + MARGIN
    dis = not (real < lo or fake < lo)
    dec = not (real > hi or fake > hi)
    if not dis and not dec:
        dis, dec = True, True
    return dis, dec


def decision_distance(real, fake):
    """How far the rule's decision is from flipping: the flags depend only on
    min(real, fake) < lo and max(real, fake) > hi."""
    lo, hi = EQUILIBRIUM - MARGIN, EQUILIBRIUM + MARGIN
    return min(abs(min(real, fake) - lo), abs(max(real, fake) - hi))


LOSSES = ("kl", "like", "dis", "adv", "dis_real", "dis_fake")


def simulate(model, noise_seed, dtype=D, stop_below=None):
    """Run STEPS steps; returns (per-step records, nets, initial parameters).
    With stop_below, returns None as soon as a step's decision distance falls
    below it (for seed searches)."""
    classes = 3 if model == "vaegan3" else 1
    n = nets.build("mnist", model)
    make_fixtures.init_params(n)
    order = [(name, n[name]) for name in ("enc", "dec", "dis")]
    for _, m in order:
        m.to(dtype).train()
    init = {f"{name}.{p}": v.detach().clone() for name, m in order for p, v in m.named_parameters()}
    opts = {name: torch.optim.Adam(m.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS) for name, m in order}
    xs = torch.from_numpy(images()).to(dtype)
    rec = {k: np.zeros(STEPS, np.float32) for k in LOSSES}
    rec.update({k: np.zeros(STEPS, np.int64) for k in ("update_dis", "update_dec")})
    rec["distance"] = np.zeros(STEPS)
    bl = BATCH * LATENT
    for k in range(STEPS):
        xb = xs[(k % BATCHES) * BATCH:(k % BATCHES + 1) * BATCH]
        eps = torch.from_numpy(philox.normal(noise_seed, 2 * k * bl, (BATCH, LATENT))).to(dtype)
        z_p = torch.from_numpy(philox.normal(noise_seed, (2 * k + 1) * bl, (BATCH, LATENT))).to(dtype)
        r = nets.vaegan_step(n["enc"], n["dec"], n["dis"], xb, eps, z_p, gamma=GAMMA, beta=BETA, classes=classes)
        for name in LOSSES:
            rec[name][k] = r[f"loss.{name}"].item()
        real, fake = r["loss.dis_real"].item(), r["loss.dis_fake"].item()
        rec["distance"][k] = decision_distance(real, fake)
        if stop_below is not None and rec["distance"][k] < stop_below:
            return None
        u_dis, u_dec = flags(real, fake)
        rec["update_dis"][k], rec["update_dec"][k] = u_dis, u_dec
        for name, m in order:
            if name == "dec" and not u_dec or name == "dis" and not u_dis:
                continue
            for p, v in m.named_parameters():
                v.grad = r[f"grad.{name}.{p}"].detach()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
    return rec, order, init


def images():
    """The BATCHES·BATCH images, x/127.5 − 1 in float32, [N, 1, 28, 28]."""
    x = make_fixtures.mnist_images(BATCH * BATCHES).astype(np.float32)
    return x[:, None] / np.float32(127.5) - np.float32(1)


def trajectory(model):
    noise_seed = NOISE_SEEDS[model]
    start = time.time()
    rec, order, init = simulate(model, noise_seed)
    dist = rec["distance"]
    closest = int(dist.argmin())
    print(f"{model}: {STEPS} steps in {time.time() - start:.1f}s; updates dis {rec['update_dis'].sum()}, "
          f"dec {rec['update_dec'].sum()}; closest to flipping: {dist[closest]:.2e} at step {closest + 1}")
    if dist[closest] < THRESH_MARGIN:
        raise SystemExit(f"{model}: at step {closest + 1} the equilibrium rule's decision lies {dist[closest]:.2e} "
                         f"from flipping (< {THRESH_MARGIN}): pick another NOISE_SEEDS[{model!r}]")

    t = OrderedDict(x=images())
    for name in LOSSES + ("update_dis", "update_dec"):
        t[f"step.{name}"] = rec[name]
    for name, m in order:
        for p, v in m.named_parameters():
            key = f"{name}.{p}"
            t[f"norm.{key}"] = np.float32([v.detach().norm().item()])
            t[f"delta.{key}"] = np.float32([(v.detach() - init[key]).norm().item()])
        for p, v in m.state_dict().items():
            if "running" in p:
                t[f"{name}.{p}"] = make_fixtures.f32(v)
    path = os.path.join(make_fixtures.OUT, f"mnist_{model}_trajectory.safetensors")
    safetensors_io.write(path, t, make_fixtures.meta(
        fixture="trajectory", command=COMMAND, arch="mnist", model=model, classes=3 if model == "vaegan3" else 1,
        steps=STEPS, batch=BATCH, batches=BATCHES, gamma=GAMMA, beta=BETA, weight_seed=WEIGHT_SEED,
        weight_rule="InitRule{7, 0.05, biases}", noise_seed=noise_seed, equilibrium=EQUILIBRIUM, margin=MARGIN,
        optimizer="adam", lr=LR, beta1=BETAS[0], beta2=BETAS[1], adam_eps=ADAM_EPS, thresh_margin=THRESH_MARGIN,
        closest=f"{dist[closest]:.3e} at step {closest + 1}"))
    print(path, os.path.getsize(path), "bytes")


def main():
    philox.self_check()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for model in NOISE_SEEDS:
        trajectory(model)


if __name__ == "__main__":
    main()
