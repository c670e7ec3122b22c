"""Write the training-trajectory fixtures reference/torch/fixtures/mnist_<model>_trajectory.safetensors.

Run from anywhere: /usr/bin/python3 reference/torch/make_trajectory.py [model ...]
(models: vaegan, vaegan3; default both). Deterministic: the same torch version
writes the same bytes.

STEPS training steps of the mnist VAE-GAN with the equilibrium rule on, as
model.Trainer.Step does them: one nets.vaegan_step for the losses and each
net's gradients, the rule (model/trainer.go result()) on the step's L_dis
terms, then torch.optim.Adam on the encoder always and on the decoder and the
discriminator when the rule says so. Everything is computed in float64 from
the float32 initial weights, images and noise, so the trajectory is the
float32 trainer's exact-arithmetic limit.

Weights: make_fixtures.init_params (InitRule{7, 0.05, biases}). Data: the first
BATCH·BATCHES MNIST training images, x/127.5 − 1, cycled: step k takes batch
k mod BATCHES. Noise: as the Go trainer's counter runs, step k draws
eps[i] = NormalAt(NOISE_SEED, 2k·B·L + i), then z_p[i] = NormalAt(NOISE_SEED, (2k+1)·B·L + i).

The rule compares dis_real and dis_fake with EQUILIBRIUM ± MARGIN at every
step. A value that passed a threshold by less than float32 rounding could flip
an update in the Go trainer, and from there the two runs part; the script
refuses seeds whose trajectory comes closer to a threshold than THRESH_MARGIN
(see README.md for the figures behind it).
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

STEPS, BATCH, BATCHES, LATENT = 300, 8, 4, 32
GAMMA, BETA = make_fixtures.GAMMA, make_fixtures.BETA
WEIGHT_SEED = make_fixtures.WEIGHT_SEED  # init_params draws with it
# model.equilibrium, model.margin; Adam as model/optim.go (torch's defaults
# but for lr and beta1).
EQUILIBRIUM, MARGIN = 0.68, 0.35
LR, BETAS, ADAM_EPS = 2e-4, (0.5, 0.999), 1e-8
# The noise seed of each model, chosen so that the trajectory keeps
# THRESH_MARGIN from every threshold of the rule.
NOISE_SEEDS = {"vaegan": 101, "vaegan3": 101}
THRESH_MARGIN = 1e-3


def flags(real, fake):
    """(update_dis, update_dec) of model/trainer.go result()."""
    lo, hi = EQUILIBRIUM - MARGIN, EQUILIBRIUM + MARGIN
    dis = not (real < lo or fake < lo)
    dec = not (real > hi or fake > hi)
    if not dis and not dec:
        dis, dec = True, True
    return dis, dec


def threshold_distance(real, fake):
    lo, hi = EQUILIBRIUM - MARGIN, EQUILIBRIUM + MARGIN
    return min(abs(v - t) for v in (real, fake) for t in (lo, hi))


def trajectory(model):
    classes = 3 if model == "vaegan3" else 1
    noise_seed = NOISE_SEEDS[model]
    n = nets.build("mnist", model)
    make_fixtures.init_params(n)
    order = [(name, n[name]) for name in ("enc", "dec", "dis")]
    for _, m in order:
        m.to(D).train()
    init = {f"{name}.{p}": v.detach().clone() for name, m in order for p, v in m.named_parameters()}
    opts = {name: torch.optim.Adam(m.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS) for name, m in order}

    x = make_fixtures.mnist_images(BATCH * BATCHES).astype(np.float32)[:, None] / np.float32(127.5) - np.float32(1)
    xs = torch.from_numpy(x).to(D)
    names = ("kl", "like", "dis", "adv", "dis_real", "dis_fake")
    rec = {k: np.zeros(STEPS, np.float32) for k in names}
    upd = {k: np.zeros(STEPS, np.int64) for k in ("update_dis", "update_dec")}
    dist = np.zeros(STEPS)
    bl = BATCH * LATENT
    start = time.time()
    for k in range(STEPS):
        xb = xs[(k % BATCHES) * BATCH:(k % BATCHES + 1) * BATCH]
        eps = torch.from_numpy(philox.normal(noise_seed, 2 * k * bl, (BATCH, LATENT))).to(D)
        z_p = torch.from_numpy(philox.normal(noise_seed, (2 * k + 1) * bl, (BATCH, LATENT))).to(D)
        r = nets.vaegan_step(n["enc"], n["dec"], n["dis"], xb, eps, z_p, gamma=GAMMA, beta=BETA, classes=classes)
        for name in names:
            rec[name][k] = r[f"loss.{name}"].item()
        real, fake = r["loss.dis_real"].item(), r["loss.dis_fake"].item()
        dist[k] = threshold_distance(real, fake)
        u_dis, u_dec = flags(real, fake)
        upd["update_dis"][k], upd["update_dec"][k] = u_dis, u_dec
        for name, m in order:
            if name == "dec" and not u_dec or name == "dis" and not u_dis:
                continue
            for p, v in m.named_parameters():
                v.grad = r[f"grad.{name}.{p}"].detach()
            opts[name].step()
            opts[name].zero_grad(set_to_none=True)
    closest = int(dist.argmin())
    print(f"{model}: {STEPS} steps in {time.time() - start:.1f}s; updates dis {upd['update_dis'].sum()}, "
          f"dec {upd['update_dec'].sum()}; closest to a threshold: {dist[closest]:.2e} at step {closest + 1}")
    if dist[closest] < THRESH_MARGIN:
        raise SystemExit(f"{model}: step {closest + 1}'s dis_real / dis_fake lies {dist[closest]:.2e} from a threshold "
                         f"of the equilibrium rule (< {THRESH_MARGIN}): pick another NOISE_SEEDS[{model!r}]")

    t = OrderedDict(x=x)
    for name in names:
        t[f"step.{name}"] = rec[name]
    t.update((f"step.{k}", v) for k, v in upd.items())
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
        fixture="trajectory", command=COMMAND, arch="mnist", model=model, classes=classes, steps=STEPS, batch=BATCH,
        batches=BATCHES, gamma=GAMMA, beta=BETA, weight_seed=WEIGHT_SEED, weight_rule="InitRule{7, 0.05, biases}",
        noise_seed=noise_seed, equilibrium=EQUILIBRIUM, margin=MARGIN, optimizer="adam", lr=LR,
        beta1=BETAS[0], beta2=BETAS[1], adam_eps=ADAM_EPS, thresh_margin=THRESH_MARGIN,
        closest_threshold=f"{dist[closest]:.3e} at step {closest + 1}"))
    print(path, os.path.getsize(path), "bytes")


def main():
    philox.self_check()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for model in sys.argv[1:] or ("vaegan", "vaegan3"):
        trajectory(model)


if __name__ == "__main__":
    main()
