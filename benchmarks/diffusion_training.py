"""Benchmark: the project's DDPM training against a plain fp32 eager loop, same model and batches.

`hopbook.models.ddpm.train` adds diffusers' EMA, a warmup schedule, replay mixing and a progress bar;
`hopbook.models.ddpm.train_together` trains --models copies as one vmapped ensemble (torch.func), as the
diffusion chapter trains its Task-2 models. The baseline is the bare loop for one model: sample,
noise, predict, MSE, AdamW step, in fp32. All run side by side in one process, alternating, each
timed over windows of at least --seconds after a warm-up. Prints training images per second (all
models counted) and the ratio to the plain loop.

    python benchmarks/diffusion_training.py [--device cpu|cuda] [--width 32] [--batch 64] [--models 8]
"""

import argparse
import copy
import time

import torch
import torch.nn.functional as F

from hopbook.data import images
from hopbook.models import ddpm


def plain_loop(model, data: torch.Tensor, steps: int, batch: int, device: str) -> None:
    """The baseline: eager fp32 noise prediction with AdamW, nothing else."""
    schedule = ddpm.noise_scheduler()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x0 = data[torch.randint(len(data), (batch,), generator=gen)]
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(ddpm.TRAIN_TIMESTEPS, (batch,), generator=gen)
        xt = schedule.add_noise(x0, noise, t)
        loss = F.mse_loss(model(xt.to(device), t.to(device)).sample, noise.to(device))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def images_per_second(run, steps: int, images_per_step: int, seconds: float, device: str) -> float:
    """Training images per second of run(steps), over repeated calls filling at least `seconds`."""
    run(steps)  # warm-up
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or calls == 0:
        run(steps)
        calls += 1
        if device == "cuda":
            torch.cuda.synchronize()
    return calls * steps * images_per_step / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--width", type=int, default=32, help="UNet channels (the chapter's default)")
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--size", type=int, default=16, help="image side (16: the digits; 32: CIFAR-10)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--models", type=int, default=8, help="ensemble size (the chapter's Task-2 models)")
    parser.add_argument("--steps", type=int, default=10, help="optimiser steps per timed call")
    parser.add_argument("--seconds", type=float, default=10.0, help="timing window per loop and round")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the loops")
    args = parser.parse_args()

    data = images.tasks("digits", "class")[0]
    data = torch.nn.functional.interpolate(data, size=args.size) if args.size != data.shape[-1] else data
    architecture = {"channels": 1, "size": args.size, "width": args.width, "levels": args.levels}
    model = ddpm.unet(**architecture).to(args.device)
    ensemble = [copy.deepcopy(model) for _ in range(args.models)]
    loops = {"plain fp32 loop": (lambda n: plain_loop(model, data, n, args.batch, args.device), args.batch)}
    for precision in ("fp32", "bf16"):
        recipe = lambda n, p=precision: ddpm.Recipe(n, args.batch, 1e-3, device=args.device, precision=p)  # noqa: E731
        loops[f"hopbook train, {precision}"] = (lambda n, r=recipe: ddpm.train(model, data, r(n), seed=0), args.batch)
        loops[f"train_together x{args.models}, {precision}"] = (lambda n, r=recipe: ddpm.train_together(
            ensemble, [data] * args.models, r(n), list(range(args.models)), [None] * args.models), args.batch * args.models)
    rates = {name: [] for name in loops}
    for _ in range(args.rounds):
        for name, (run, per_step) in loops.items():
            rates[name].append(images_per_second(run, args.steps, per_step, args.seconds, args.device))
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    n_params = sum(p.numel() for p in model.parameters())
    print(f"UNet of {n_params:,} parameters, batch {args.batch} of {args.size}x{args.size} images, on {where}")
    baseline = max(rates["plain fp32 loop"])
    for name, r in rates.items():
        print(f"{name:26s} {max(r):8.0f} images/s (rounds: {', '.join(f'{x:.0f}' for x in r)}), "
              f"ratio to plain fp32 {max(r) / baseline:.2f}")


if __name__ == "__main__":
    main()
