"""The reference nets of /work/shared/spec/models.md as torch.nn.Modules.

Attribute names are the spec's layer names, so state_dict() keys are exactly
`<name>.<param>`; prefixed with enc./dec./dis. they are the checkpoint names.
A layer followed by BatchNorm has no bias.
"""

import torch
from torch import nn
import torch.nn.functional as F

# Per architecture: image channels, size, latent; encoder convs (out, k, s, p);
# encoder fc width; decoder start shape, deconvs (out, k, s, p, output_padding)
# and output layer; discriminator convs (out, k, s, p) with the index of the
# Dis_l conv, discriminator fc width and activation.
ARCHS = {
    "mnist": dict(
        channels=1, size=28, latent=32,
        enc_convs=[(32, 4, 2, 1), (64, 4, 2, 1)], enc_fc=512,
        dec_start=(64, 7, 7), dec_deconvs=[(32, 4, 2, 1, 0)], dec_out=("deconv", 4, 2, 1, 0),
        dis_convs=[(32, 4, 2, 1), (64, 4, 2, 1)], dis_l=2, dis_fc=512, dis_act="leaky_relu",
    ),
    "celeba64": dict(
        channels=3, size=64, latent=128,
        enc_convs=[(64, 5, 2, 2), (128, 5, 2, 2), (256, 5, 2, 2)], enc_fc=2048,
        dec_start=(256, 8, 8), dec_deconvs=[(256, 5, 2, 2, 1), (128, 5, 2, 2, 1), (32, 5, 2, 2, 1)],
        dec_out=("conv", 5, 1, 2, 0),
        dis_convs=[(32, 5, 1, 2), (128, 5, 2, 2), (256, 5, 2, 2), (256, 5, 2, 2)], dis_l=4, dis_fc=512,
        dis_act="relu",
    ),
}


def _conv_out(size, k, s, p):
    return (size + 2 * p - k) // s + 1


class Encoder(nn.Module):
    """conv_i → bn_i → ReLU, fc → bn_fc → ReLU, then mu and logvar heads."""

    def __init__(self, arch):
        super().__init__()
        a = ARCHS[arch]
        c, size = a["channels"], a["size"]
        self.n_convs = len(a["enc_convs"])
        for i, (out, k, s, p) in enumerate(a["enc_convs"], 1):
            setattr(self, f"conv{i}", nn.Conv2d(c, out, k, s, p, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(out))
            c, size = out, _conv_out(size, k, s, p)
        self.fc = nn.Linear(c * size * size, a["enc_fc"], bias=False)
        self.bn_fc = nn.BatchNorm1d(a["enc_fc"])
        self.mu = nn.Linear(a["enc_fc"], a["latent"])
        self.logvar = nn.Linear(a["enc_fc"], a["latent"])

    def forward(self, x):
        h = x
        for i in range(1, self.n_convs + 1):
            h = F.relu(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(h)))
        h = F.relu(self.bn_fc(self.fc(h.flatten(1))))
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    """fc → bn_fc → ReLU → reshape, deconv_i → bn_i → ReLU, out → tanh."""

    def __init__(self, arch):
        super().__init__()
        a = ARCHS[arch]
        self.start = a["dec_start"]
        c = self.start[0]
        self.fc = nn.Linear(a["latent"], c * self.start[1] * self.start[2], bias=False)
        self.bn_fc = nn.BatchNorm1d(c * self.start[1] * self.start[2])
        self.n_deconvs = len(a["dec_deconvs"])
        for i, (out, k, s, p, op) in enumerate(a["dec_deconvs"], 1):
            setattr(self, f"deconv{i}", nn.ConvTranspose2d(c, out, k, s, p, output_padding=op, bias=False))
            setattr(self, f"bn{i}", nn.BatchNorm2d(out))
            c = out
        kind, k, s, p, op = a["dec_out"]
        if kind == "deconv":
            self.out = nn.ConvTranspose2d(c, a["channels"], k, s, p, output_padding=op)
        else:
            self.out = nn.Conv2d(c, a["channels"], k, s, p)

    def forward(self, z):
        h = F.relu(self.bn_fc(self.fc(z))).view(-1, *self.start)
        for i in range(1, self.n_deconvs + 1):
            h = F.relu(getattr(self, f"bn{i}")(getattr(self, f"deconv{i}")(h)))
        return torch.tanh(self.out(h))


class Discriminator(nn.Module):
    """conv1 (bias) → act, conv_i → bn_i → act, fc → bn_fc → act, out.

    forward returns (logits [N, classes], Dis_l): Dis_l is the output of the
    spec's named conv before its BatchNorm."""

    def __init__(self, arch, classes=1):
        super().__init__()
        a = ARCHS[arch]
        c, size = a["channels"], a["size"]
        self.n_convs = len(a["dis_convs"])
        self.dis_l = a["dis_l"]
        self.act = a["dis_act"]
        for i, (out, k, s, p) in enumerate(a["dis_convs"], 1):
            if i == 1:
                setattr(self, "conv1", nn.Conv2d(c, out, k, s, p))
            else:
                setattr(self, f"conv{i}", nn.Conv2d(c, out, k, s, p, bias=False))
                setattr(self, f"bn{i}", nn.BatchNorm2d(out))
            c, size = out, _conv_out(size, k, s, p)
        self.fc = nn.Linear(c * size * size, a["dis_fc"], bias=False)
        self.bn_fc = nn.BatchNorm1d(a["dis_fc"])
        self.out = nn.Linear(a["dis_fc"], classes)

    def _f(self, h):
        return F.leaky_relu(h, 0.2) if self.act == "leaky_relu" else F.relu(h)

    def forward(self, x):
        h = self._f(self.conv1(x))
        disl = None
        for i in range(2, self.n_convs + 1):
            h = getattr(self, f"conv{i}")(h)
            if i == self.dis_l:
                disl = h
            h = self._f(getattr(self, f"bn{i}")(h))
        h = self._f(self.bn_fc(self.fc(h.flatten(1))))
        return self.out(h), disl


def build(arch, model="vaegan"):
    """The nets of a model (vae | gan | vaegan | vaegan3) for an architecture,
    as a dict {"enc", "dec", "dis"} holding only the nets the model has."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r} (want one of {', '.join(ARCHS)})")
    if model not in ("vae", "gan", "vaegan", "vaegan3"):
        raise ValueError(f"unknown model {model!r} (want vae, gan, vaegan or vaegan3)")
    nets = {}
    if model != "gan":
        nets["enc"] = Encoder(arch)
    nets["dec"] = Decoder(arch)
    if model != "vae":
        nets["dis"] = Discriminator(arch, classes=3 if model == "vaegan3" else 1)
    return nets


def _bce(logits, target):
    """Mean over the batch of the BCE of sigmoid(logits) against a constant target."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, float(target)), reduction="sum") / logits.shape[0]


def _ce(logits, cls):
    """Mean over the batch of softmax cross-entropy toward a constant class."""
    t = torch.full((logits.shape[0],), cls, dtype=torch.long)
    return F.cross_entropy(logits, t, reduction="mean")


def vaegan_step(enc, dec, dis, x, eps, z_p, gamma=0.75, beta=1.0, classes=1):
    """One VAE-GAN training step of the spec (all nets in train mode), without
    the optimizer update. Returns a dict of the activations, the losses and
    the gradients {"grad.<net>.<param>": tensor}; BN running stats are updated
    in place in the nets (decoder twice: x_rec, then x_gen)."""
    B = x.shape[0]
    mu, logvar = enc(x)
    z = mu + torch.exp(logvar / 2) * eps
    x_rec = dec(z)
    x_gen = dec(z_p)
    logits, disl = dis(torch.cat([x, x_rec, x_gen]))
    l_x, l_rec, l_gen = logits[:B], logits[B:2 * B], logits[2 * B:]
    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar)) / B
    like = 0.5 * torch.sum((disl[:B] - disl[B:2 * B]) ** 2) / B
    if classes == 1:
        real, rec, gen = _bce(l_x, 1), _bce(l_rec, 0), _bce(l_gen, 0)
        adv = _bce(l_rec, 1) + _bce(l_gen, 1)
    else:
        real, rec, gen = _ce(l_x, 0), _ce(l_rec, 1), _ce(l_gen, 2)
        adv = _ce(l_rec, 0) + _ce(l_gen, 0)
    ldis = real + rec + gen
    fake = (rec + gen) / 2
    out = dict(z=z, mu=mu, logvar=logvar, x_rec=x_rec, x_gen=x_gen, logits=logits, disl=disl)
    out.update({"loss.kl": kl, "loss.like": like, "loss.dis": ldis, "loss.adv": adv,
                "loss.dis_real": real, "loss.dis_fake": fake})
    _grads(out, ((enc, "enc", kl + beta * like), (dec, "dec", gamma * like + adv), (dis, "dis", ldis)))
    return out


def _grads(out, terms):
    """Add {"grad.<net>.<param>"} to out for each (net, name, loss) of terms."""
    for net, name, loss in terms:
        params = list(net.named_parameters())
        grads = torch.autograd.grad(loss, [p for _, p in params], retain_graph=True)
        for (pname, _), g in zip(params, grads):
            out[f"grad.{name}.{pname}"] = g


def vae_step(enc, dec, x, eps):
    """One step of the `vae` baseline: Enc ← KL + L_rec, Dec ← L_rec, with
    L_rec = 0.5·Σ (x_rec − x)² per image, a mean over the batch."""
    B = x.shape[0]
    mu, logvar = enc(x)
    z = mu + torch.exp(logvar / 2) * eps
    x_rec = dec(z)
    kl = -0.5 * torch.sum(1 + logvar - mu ** 2 - torch.exp(logvar)) / B
    rec = 0.5 * torch.sum((x_rec - x) ** 2) / B
    out = {"loss.kl": kl, "loss.like": rec}
    _grads(out, ((enc, "enc", kl + rec), (dec, "dec", rec)))
    return out


def gan_step(dec, dis, x, z_p):
    """One step of the `gan` baseline (DCGAN, non-saturating): the
    discriminator sees [x; x_gen] as one batch of 2B; Dis ← BCE(D(x), 1) +
    BCE(D(x_gen), 0), Dec ← BCE(D(x_gen), 1)."""
    B = x.shape[0]
    x_gen = dec(z_p)
    logits, _ = dis(torch.cat([x, x_gen]))
    real, gen = _bce(logits[:B], 1), _bce(logits[B:], 0)
    adv = _bce(logits[B:], 1)
    out = {"loss.dis": real + gen, "loss.adv": adv, "loss.dis_real": real, "loss.dis_fake": gen}
    _grads(out, ((dec, "dec", adv), (dis, "dis", real + gen)))
    return out
