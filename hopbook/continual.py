"""Continual learning of a diffusion model: Task 1, then Task 2 with and without replay.

The protocol of the paper's diffusion experiments (Takeda, Oizumi, Karakida 2026, Sections 4.3 and
5.3): one model trained on Task 1, then, from its weights, one model per Task-2 setting (class- or
domain-incremental) and replay buffer (none, or K Task-1 images chosen by energy or at random).
Every model is scored image by image on Task 1 by a forgetting score such as
hopbook.reconstruction.reconstruction_mse.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from diffusers import DDPMScheduler
from torch import Tensor, nn

from hopbook.models.checkpoints import trained, trained_together
from hopbook.models.ddpm import Recipe
from hopbook.stats import mean_se

POLICIES = ("none", "top", "random", "bottom")


def replay_buffer(energies: Tensor, k: int, policy: str, seed: int) -> Tensor | None:
    """Indices of the K Task-1 images to replay: highest energy ("top"), lowest ("bottom"), a
    uniform draw ("random"), or None for no replay."""
    if policy not in POLICIES:
        raise ValueError(f"unknown replay policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if policy == "none":
        return None
    if policy == "random":
        return torch.randperm(len(energies), generator=torch.Generator().manual_seed(seed))[:k]
    return torch.topk(energies, k, largest=policy == "top").indices


@dataclass(frozen=True)
class Forgetting:
    """The per-image scores of Task-1 images under every model of a continual run."""

    after_task1: Tensor
    after_task2: dict[str, dict[str, Tensor]]  # setting -> replay policy -> scores

    def rise(self, setting: str) -> Tensor:
        """How much Task 2 without replay raised each image's score."""
        return self.after_task2[setting]["none"] - self.after_task1

    def reduction(self, setting: str, policy: str) -> Tensor:
        """How much replay lowered each image's score after Task 2, against no replay."""
        return self.after_task2[setting]["none"] - self.after_task2[setting][policy]

    def table(self) -> pd.DataFrame:
        """Mean, standard error and count of the scores of every model."""
        rows = {"after Task 1": mean_se(self.after_task1)}
        rows |= {f"after Task 2 ({s}, replay {p})": mean_se(v) for s, by in self.after_task2.items() for p, v in by.items()}
        return pd.DataFrame(rows).T


def continual(
    architecture: dict, task1: Tensor, task2: dict[str, Tensor], buffers: dict[str, Tensor | None],
    recipes: tuple[Recipe, Recipe], seed: int, score: Callable[[nn.Module], Tensor], *,
    start: tuple[nn.Module, str] | None = None, schedule: DDPMScheduler | None = None, folder: Path | None = None,
    together: bool = True,
) -> Forgetting:
    """Task 1, then each Task 2 from the Task-1 model with each replay buffer (indices into task1,
    or None), every model trained or loaded from the checkpoint cache, and `score` of every model.
    The Task-2 models train as one ensemble, or one after another when `together` is False."""
    common = {"folder": folder, "schedule": schedule}
    model1, key1 = trained(architecture, task1, recipes[0], seed, start=start, desc="Task 1", **common)
    after_task1 = score(model1)
    jobs = [(setting, policy) for setting in task2 for policy in buffers]
    models = trained_together(
        architecture, [task2[setting] for setting, _ in jobs], recipes[1], seed + 1, start=(model1, key1),
        replays=[None if buffers[policy] is None else task1[buffers[policy]] for _, policy in jobs],
        desc=f"Task 2, {len(jobs)} models", together=together, **common,
    )
    after_task2 = {setting: {} for setting in task2}
    for (setting, policy), (model2, _) in zip(jobs, models):
        after_task2[setting][policy] = score(model2)
    return Forgetting(after_task1, after_task2)
