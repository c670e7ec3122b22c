"""Write the PyTorch reference fixtures into reference/torch/fixtures/.

Run from anywhere: /usr/bin/python3 reference/torch/make_fixtures.py
Deterministic: the same torch version writes the same bytes.
"""

import gzip
import os
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import nets  # noqa: E402
import philox  # noqa: E402
import safetensors_io  # noqa: E402

OUT = os.path.join(HERE, "fixtures")
COMMAND = "/usr/bin/python3 reference/torch/make_fixtures.py"
D = torch.float64

# The whole-step fixtures' constants (see README.md).
# The seeds are chosen so that no BatchNorm output (the pre-activation of every
# ReLU) lies within KINK_MARGIN of zero: closer than that, float32 rounding can
# put it on either side of the kink and flip its gradient (1234 / 99 had one at
# 2.5e-8). step() checks the margin.
WEIGHT_SEED, NOISE_SEED, BATCH, GAMMA, BETA = 7, 101, 8, 0.75, 1.0
# The gan step draws z_p where the others draw eps: 101 and 102 put a BatchNorm
# output of its step within the margin.
GAN_NOISE_SEED = 103
KINK_MARGIN = 1e-5
# The reparameterization fixture's eps = NormalAt(REPARAM_SEED, REPARAM_OFFSET + i).
REPARAM_SEED, REPARAM_OFFSET = 5, 1000


def meta(**kw):
    m = {"torch": torch.__version__, "numpy": np.__version__, "command": COMMAND}
    m.update({k: str(v) for k, v in kw.items()})
    return m


def f32(t):
    return t.detach().to(torch.float32).numpy()


class Layers:
    """Collects one op's tensors under `<op>.<name>`, from float32 inputs
    computed in float64."""

    def __init__(self):
        self.t = OrderedDict()

    def rand(self, shape, scale=1.0, shift=0.0, positive=False):
        """A float32 N(shift, scale²) tensor (|N(0, scale²)| + shift when positive),
        computed in float32 and returned as float64, so it is exactly representable."""
        t = torch.randn(*shape) * scale
        if positive:
            t = t.abs()
        return (t + shift).to(D)

    def put(self, op, **tensors):
        for k, v in tensors.items():
            self.t[f"{op}.{k}"] = f32(v)


def leaf(t):
    return t.clone().requires_grad_(True)


def conv_case(L, op, seed, k, s, p):
    torch.manual_seed(seed)
    x, w, b = leaf(L.rand((2, 3, 9, 9))), leaf(L.rand((5, 3, k, k), 0.3)), leaf(L.rand((5,)))
    y = F.conv2d(x, w, b, stride=s, padding=p)
    dy = L.rand(y.shape)
    dx, dw, db = torch.autograd.grad(y, (x, w, b), dy)
    L.put(op, x=x, w=w, b=b, y=y, dy=dy, dx=dx, dw=dw, db=db)


def convt_case(L, op, seed, k, s, p, op_pad):
    torch.manual_seed(seed)
    x, w, b = leaf(L.rand((2, 5, 5, 5))), leaf(L.rand((5, 3, k, k), 0.3)), leaf(L.rand((3,)))
    y = F.conv_transpose2d(x, w, b, stride=s, padding=p, output_padding=op_pad)
    dy = L.rand(y.shape)
    dx, dw, db = torch.autograd.grad(y, (x, w, b), dy)
    L.put(op, x=x, w=w, b=b, y=y, dy=dy, dx=dx, dw=dw, db=db)


def bn_cases(L, op, seed, shape):
    torch.manual_seed(seed)
    c = shape[1]
    bn = torch.nn.BatchNorm1d(c) if len(shape) == 2 else torch.nn.BatchNorm2d(c)
    bn = bn.to(D)
    x = leaf(L.rand(shape, 2.0, 0.5))
    gamma, beta = L.rand((c,), 0.5, 1.0), L.rand((c,), 0.5)
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
    bn.train()
    y = bn(x)
    dy = L.rand(y.shape)
    dx, dgamma, dbeta = torch.autograd.grad(y, (x, bn.weight, bn.bias), dy)
    dims = [0] + list(range(2, len(shape)))
    mean = x.detach().mean(dims)
    invstd = 1 / torch.sqrt(x.detach().var(dims, unbiased=False) + 1e-5)
    L.put(f"{op}_train", x=x, gamma=gamma, beta=beta, y=y, mean=mean, invstd=invstd,
          running_mean=bn.running_mean, running_var=bn.running_var, dy=dy, dx=dx, dgamma=dgamma, dbeta=dbeta)
    bn.eval()
    with torch.no_grad():
        bn.running_mean.copy_(L.rand((c,), 0.5))
        bn.running_var.copy_(L.rand((c,), 0.5, 0.5, positive=True))
    x = L.rand(shape, 2.0, 0.5)
    L.put(f"{op}_eval", x=x, gamma=gamma, beta=beta, running_mean=bn.running_mean, running_var=bn.running_var,
          y=bn(x))


def act_case(L, op, seed, f):
    torch.manual_seed(seed)
    x = leaf(L.rand((3, 4, 5), 2.0))
    y = f(x)
    dy = L.rand(y.shape)
    (dx,) = torch.autograd.grad(y, x, dy)
    L.put(op, x=x, y=y, dy=dy, dx=dx)


def loss_case(L, op, seed, f, shape, scale=3.0):
    """A loss of one input: stores x, loss [1], grad (= ∂loss/∂x)."""
    torch.manual_seed(seed)
    x = leaf(L.rand(shape, scale))
    loss = f(x)
    (g,) = torch.autograd.grad(loss, x)
    L.put(op, x=x, loss=loss.reshape(1), grad=g)


def layers():
    L = Layers()
    conv_case(L, "conv2d_k4s2p1", 1, 4, 2, 1)
    conv_case(L, "conv2d_k5s2p2", 2, 5, 2, 2)
    conv_case(L, "conv2d_k5s1p2", 3, 5, 1, 2)
    convt_case(L, "convt2d_k4s2p1", 4, 4, 2, 1, 0)
    convt_case(L, "convt2d_k5s2p2op1", 5, 5, 2, 2, 1)

    torch.manual_seed(6)
    x, w, b = leaf(L.rand((4, 7))), leaf(L.rand((6, 7), 0.3)), leaf(L.rand((6,)))
    y = F.linear(x, w, b)
    dy = L.rand(y.shape)
    dx, dw, db = torch.autograd.grad(y, (x, w, b), dy)
    L.put("linear", x=x, w=w, b=b, y=y, dy=dy, dx=dx, dw=dw, db=db)

    bn_cases(L, "bn2d", 7, (4, 3, 5, 5))
    bn_cases(L, "bn1d", 8, (6, 4))
    act_case(L, "relu", 9, F.relu)
    act_case(L, "leaky_relu", 10, lambda t: F.leaky_relu(t, 0.2))
    act_case(L, "tanh", 11, torch.tanh)

    loss_case(L, "bce_t1", 12, lambda t: F.binary_cross_entropy_with_logits(t, torch.ones_like(t), reduction="sum"), (9,))
    loss_case(L, "bce_t0", 13, lambda t: F.binary_cross_entropy_with_logits(t, torch.zeros_like(t), reduction="sum"), (9,))
    loss_case(L, "softmax_ce_k3c1", 14,
              lambda t: F.cross_entropy(t, torch.full((t.shape[0],), 1, dtype=torch.long), reduction="sum"), (5, 3))

    torch.manual_seed(15)
    mu, logvar = leaf(L.rand((4, 6))), leaf(L.rand((4, 6), 0.7))
    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar))
    dmu, dlogvar = torch.autograd.grad(kl, (mu, logvar))
    L.put("kl", mu=mu, logvar=logvar, loss=kl.reshape(1), dmu=dmu, dlogvar=dlogvar)

    torch.manual_seed(16)
    mu, logvar = leaf(L.rand((4, 6))), leaf(L.rand((4, 6), 0.7))
    eps = torch.from_numpy(philox.normal(REPARAM_SEED, REPARAM_OFFSET, (4, 6))).to(D)
    z = mu + torch.exp(logvar / 2) * eps
    dz = L.rand(z.shape)
    dmu, dlogvar = torch.autograd.grad(z, (mu, logvar), dz)
    L.put("reparam", mu=mu, logvar=logvar, eps=eps, z=z, dz=dz, dmu=dmu, dlogvar=dlogvar)

    torch.manual_seed(17)
    a, b = leaf(L.rand((3, 7))), L.rand((3, 7))
    loss = 0.5 * torch.sum((a - b) ** 2)
    (g,) = torch.autograd.grad(loss, a)
    L.put("sqerr", a=a, b=b, loss=loss.reshape(1), grad=g)

    safetensors_io.write(os.path.join(OUT, "layers.safetensors"), L.t,
                         meta(reparam_seed=REPARAM_SEED, reparam_offset=REPARAM_OFFSET))


def mnist_images(n):
    """The first n MNIST training images as uint8 [n, 28, 28]."""
    rel = "train-images-idx3-ubyte.gz"
    path = os.path.join(HERE, "..", "..", "data", "mnist", rel)
    if not os.path.exists(path):
        modcache = subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=True).stdout.strip()
        path = os.path.join(modcache, "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63/data", rel)
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    if magic != 2051 or count < n or rows != 28 or cols != 28:
        raise ValueError(f"{path}: not an MNIST image file (magic {magic}, {count}×{rows}×{cols})")
    return np.frombuffer(raw[16:16 + n * 784], dtype=np.uint8).reshape(n, 28, 28)


def init_params(nets_by_name, arch="mnist"):
    """Set every parameter: tensor j (global over enc, dec, dis in order, counting
    the tensors of a net the model lacks too, as model.Trainer.Init does), element
    i = base + 0.05·NormalAt(WEIGHT_SEED, (j << 40) | i) in float32, base 1 for
    BatchNorm weights, else 0. Running stats stay 0 / 1."""
    full = nets.build(arch, "vaegan")
    j = 0
    for name in ("enc", "dec", "dis"):
        net = nets_by_name.get(name)
        if net is None:
            j += len(list(full[name].parameters()))
            continue
        for pname, p in net.named_parameters():
            mod = net.get_submodule(pname.rsplit(".", 1)[0])
            base = np.float32(1 if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm) and pname.endswith(".weight") else 0)
            idx = (np.uint64(j) << np.uint64(40)) | np.arange(p.numel(), dtype=np.uint64)
            v = base + np.float32(0.05) * philox.normal_at(WEIGHT_SEED, idx)
            with torch.no_grad():
                p.copy_(torch.from_numpy(v.astype(np.float32).reshape(p.shape)))
            j += 1


def step(model):
    """One whole training step of model on mnist (no optimizer update): the
    losses, every parameter gradient and the BatchNorm running statistics after
    it. The noise stream gives eps first (models with an encoder), then z_p."""
    classes = 3 if model == "vaegan3" else 1
    n = nets.build("mnist", model)
    order = [(name, n[name]) for name in ("enc", "dec", "dis") if name in n]
    init_params(n)
    init = OrderedDict()
    for name in ("enc.conv1.weight", "enc.bn1.weight", "dis.out.bias"):
        net, pname = name.split(".", 1)
        if net in n:
            init[f"init.{name}"] = f32(n[net].state_dict()[pname])
    for _, m in order:
        m.to(D).train()
    pre_act = []
    for _, m in order:
        for mod in m.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.register_forward_hook(lambda mod, inp, out: pre_act.append(out.detach().abs().min().item()))
    x = mnist_images(BATCH).astype(np.float32)[:, None] / np.float32(127.5) - np.float32(1)
    t = OrderedDict(x=x)
    noise_seed, offset = GAN_NOISE_SEED if model == "gan" else NOISE_SEED, 0
    if "enc" in n:
        t["eps"] = philox.normal(noise_seed, offset, (BATCH, 32))
        offset += BATCH * 32
    if "dis" in n:
        t["z_p"] = philox.normal(noise_seed, offset, (BATCH, 32))
    dev = {k: torch.from_numpy(v).to(D) for k, v in t.items()}
    if model == "vae":
        r = nets.vae_step(n["enc"], n["dec"], dev["x"], dev["eps"])
    elif model == "gan":
        r = nets.gan_step(n["dec"], n["dis"], dev["x"], dev["z_p"])
    else:
        r = nets.vaegan_step(n["enc"], n["dec"], n["dis"], dev["x"], dev["eps"], dev["z_p"],
                             gamma=GAMMA, beta=BETA, classes=classes)
    if min(pre_act) < KINK_MARGIN:
        raise SystemExit(f"{model}: a BatchNorm output lies {min(pre_act):.2e} from zero (< {KINK_MARGIN}): "
                         "pick other WEIGHT_SEED / NOISE_SEED")
    for k, v in r.items():
        t[k] = f32(v.reshape(1) if v.dim() == 0 else v)
    for net, m in order:
        for k, v in m.state_dict().items():
            if "running" in k:
                t[f"{net}.{k}"] = f32(v)
    t.update(init)
    safetensors_io.write(os.path.join(OUT, f"mnist_{model}_step.safetensors"), t,
                         meta(fixture="vaegan_step" if model.startswith("vaegan") else f"{model}_step", arch="mnist", model=model, classes=classes, batch=BATCH,
                              gamma=GAMMA, beta=BETA, weight_seed=WEIGHT_SEED, noise_seed=noise_seed))


DIGEST_SAMPLES = 16  # sampled elements per gradient in a digest fixture
CELEBA_BATCH = 4


def digest(g):
    """A gradient's digest: [L2 norm, sum, then DIGEST_SAMPLES elements at the
    flat indices round(k·(n−1)/(DIGEST_SAMPLES−1))], float64 as float32."""
    flat = g.detach().reshape(-1)
    n = flat.numel()
    idx = [round(k * (n - 1) / (DIGEST_SAMPLES - 1)) for k in range(DIGEST_SAMPLES)]
    return f32(torch.cat([flat.norm().reshape(1), flat.sum().reshape(1), flat[idx]]))


def celeba_step():
    """One vaegan step of the celeba64 nets (a BatchNorm before Dis_l, unlike
    mnist's) on CELEBA_BATCH Philox images in [-1, 1]: the losses, every
    running statistic, and each parameter gradient as a digest (its full
    gradients would take hundreds of MB). The same step in float32 gives
    each gradient's float32 error ("f32err.<param>": ‖g32 − g64‖ / ‖g64‖),
    what float32 arithmetic alone costs on these nets."""
    B, L = CELEBA_BATCH, 128
    x = np.tanh(philox.normal(NOISE_SEED + 7, 0, (B, 3, 64, 64))).astype(np.float32)
    eps = philox.normal(NOISE_SEED, 0, (B, L))
    z_p = philox.normal(NOISE_SEED, B * L, (B, L))
    runs = {}
    for dtype in (torch.float64, torch.float32):
        n = nets.build("celeba64", "vaegan")
        init_params(n, "celeba64")
        for name in ("enc", "dec", "dis"):
            n[name].to(dtype).train()
        dev = {k: torch.from_numpy(v).to(dtype) for k, v in dict(x=x, eps=eps, z_p=z_p).items()}
        runs[dtype] = (n, nets.vaegan_step(n["enc"], n["dec"], n["dis"], dev["x"], dev["eps"], dev["z_p"], gamma=GAMMA, beta=BETA))
    n, r = runs[D]
    r32 = runs[torch.float32][1]
    t = OrderedDict(x=x)
    for k, v in r.items():
        if k.startswith("loss."):
            t[k] = f32(v.reshape(1))
        elif k.startswith("grad."):
            name = k[len("grad."):]
            t["digest." + name] = digest(v)
            err = (r32[k].double() - v).norm() / v.norm()
            t["f32err." + name] = f32(err.reshape(1))
    for net in ("enc", "dec", "dis"):
        for k, v in n[net].state_dict().items():
            if "running" in k:
                t[f"{net}.{k}"] = f32(v)
    safetensors_io.write(os.path.join(OUT, "celeba64_vaegan_step_digest.safetensors"), t,
                         meta(fixture="vaegan_step_digest", arch="celeba64", model="vaegan", batch=B, gamma=GAMMA, beta=BETA,
                              weight_seed=WEIGHT_SEED, noise_seed=NOISE_SEED, digest_samples=DIGEST_SAMPLES))


def main():
    philox.self_check()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    layers()
    for model in ("vaegan", "vaegan3", "vae", "gan"):
        step(model)
    celeba_step()
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)), "bytes")


if __name__ == "__main__":
    main()
