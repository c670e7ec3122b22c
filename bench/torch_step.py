"""Times the spec's training step in PyTorch, for `go run ./bench`.

    torch_step.py --arch mnist --model vaegan --batch 64 --threads 2 [--device cuda]

It builds the nets of /work/shared/spec/models.md from reference/torch/nets.py,
prints one JSON line describing the setup (torch version, threads, the BLAS
libraries loaded, a 2048³ matmul's GFLOP/s), then reads lines from stdin,
each holding a number of steps N: it runs N training steps on a fixed batch
and prints one JSON line {"seconds": [...]} with the time of each. A step is
what the Go trainer's Step does with the equilibrium rule off: forward
passes, one autograd.grad per network (nets.vaegan_step, vae_step, gan_step) and one Adam
update per network.
"""

import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--arch", default="mnist")
p.add_argument("--model", default="vaegan", choices=["vaegan", "vaegan3", "vae", "gan"])
p.add_argument("--batch", type=int, default=64)
p.add_argument("--threads", type=int, default=os.cpu_count())
p.add_argument("--gamma", type=float, default=1.0)
p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the nets and the batch live")
args = p.parse_args()
os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before torch starts OpenMP

import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference", "torch"))
from nets import ARCHS, build, gan_step, vae_step, vaegan_step  # noqa: E402


def sync():
    """Waits for the device's queued work (a no-op on the CPU)."""
    if args.device == "cuda":
        torch.cuda.synchronize()


def make_step(arch, model, batch, gamma):
    """The nets, their Adam optimizers and a function running one step."""
    a = ARCHS[arch]
    nets = build(arch, model)
    for net in nets.values():
        net.to(args.device).train()
    opts = {k: torch.optim.Adam(n.parameters(), lr=2e-4, betas=(0.5, 0.999)) for k, n in nets.items()}
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(batch, a["channels"], a["size"], a["size"], generator=gen) * 2 - 1).to(args.device)
    latent = a["latent"]

    def step():
        eps, z_p = (torch.randn(batch, latent, device=args.device) for _ in range(2))
        if model == "vae":
            out = vae_step(nets["enc"], nets["dec"], x, eps)
        elif model == "gan":
            out = gan_step(nets["dec"], nets["dis"], x, z_p)
        else:
            out = vaegan_step(nets["enc"], nets["dec"], nets["dis"], x, eps, z_p, gamma=gamma,
                              classes=3 if model == "vaegan3" else 1)
        for k, net in nets.items():
            for n, q in net.named_parameters():
                q.grad = out[f"grad.{k}.{n}"]
            opts[k].step()

    return step


def loaded_blas():
    """The BLAS and OpenMP libraries mapped into this process."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if "blas" in path or "omp" in os.path.basename(path):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def gemm_gflops(n=2048, reps=5):
    """The best rate of an n³ float32 matmul, in GFLOP/s."""
    a, b = torch.randn(n, n, device=args.device), torch.randn(n, n, device=args.device)
    torch.mm(a, b)
    sync()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def main():
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    step = make_step(args.arch, args.model, args.batch, args.gamma)
    info = dict(torch=torch.__version__, threads=torch.get_num_threads(), blas=loaded_blas(),
                gemm_gflops=gemm_gflops(), device=args.device)
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        seconds = []
        for _ in range(int(line)):
            t0 = time.perf_counter()
            step()
            sync()
            seconds.append(time.perf_counter() - t0)
        print(json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
