"""Benchmark: a small model's training step on one and on two CPU threads, alone and beside a busy process.

The models are rank-collapse's defaults: the character GPT (width 64, 4 layers, 64 characters, batch 32)
and the no-skip ViT (width 32, 2 layers, batch 64). Each is timed on 1 and 2 threads, first alone,
then while another process keeps the CPU busy (a loop of 512x512 float32 products on two threads, the
kind of neighbour a shared machine has), all in this one process, after a warm-up.

    python benchmarks/threads.py [--seconds 10]
"""

import argparse
import platform
import subprocess
import sys
import time

import torch

from hopbook.attention import AttentionConfig, variant
from hopbook.models.tiny_transformers import CharGPT, VisionTransformer, minibatches, text_windows, train

BUSY = "import torch\nx = torch.randn(512, 512)\nwhile True:\n    x = torch.tanh(x @ x)"


def gpt() -> tuple[torch.nn.Module, object]:
    ids = torch.randint(0, 60, (20_000,), generator=torch.Generator().manual_seed(0))
    model = CharGPT(variant("mha_mlp", AttentionConfig(64, 4, layer_norm=True, causal=True)), 4, 60, 64)
    return model, text_windows(ids, 64, 32, 0)


def vit() -> tuple[torch.nn.Module, object]:
    x, y = torch.randn(1400, 16, 16, generator=torch.Generator().manual_seed(0)), torch.arange(1400) % 10
    config = variant("mha_mlp", AttentionConfig(32, 4, layer_norm=True, mlp_skip="none"))
    return VisionTransformer(config, 2, 16, 16, 10), minibatches(x, y, 64, 0)


def step_ms(make, threads: int, seconds: float) -> float:
    """Milliseconds per training step on `threads` threads, over at least `seconds` after a warm-up."""
    torch.set_num_threads(threads)
    model, batches = make()
    train(model, batches, 3, 1e-3, "warm-up")
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        train(model, batches, 5, 1e-3, "timed")
        steps += 5
    return 1000 * (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(f"$ python benchmarks/threads.py --seconds {args.seconds:g}   # {time.strftime('%Y-%m-%d')}, "
          f"{platform.machine()}, torch {torch.__version__}")
    for setting in ("alone", "beside a busy process"):
        busy = subprocess.Popen([sys.executable, "-c", BUSY]) if setting != "alone" else None
        try:
            for name, make in (("GPT", gpt), ("ViT", vit)):
                one, two = step_ms(make, 1, args.seconds), step_ms(make, 2, args.seconds)
                print(f"{setting:>22}  {name}: 1 thread {one:7.1f} ms/step, 2 threads {two:7.1f} ms/step, "
                      f"ratio 2 to 1 threads {two / one:.2f}")
        finally:
            if busy:
                busy.kill()
                busy.wait()


if __name__ == "__main__":
    main()
