"""Trained diffusion models, cached as safetensors checkpoints under the key of what determines them.

A checkpoint's key covers the architecture, the data (by its bytes), the training recipe, the seed,
the starting model's key, the replay buffer, the noise schedule, the torch and diffusers versions
and the code that trains (`TRAINING_CODE`, docstrings and comments aside): a rerun with the same
key loads the weights instead of training again.
"""

import copy
import os
from collections.abc import Callable
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from diffusers import DDPMScheduler
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from hopbook import ddpm
from hopbook.fingerprint import code, fingerprint

CHECKPOINTS = Path(os.environ.get("HOPBOOK_CHECKPOINTS", Path(__file__).resolve().parent.parent / "runs" / "checkpoints"))
TRAINING_CODE = ("hopbook.ddpm", "hopbook.checkpoints")


def trained(
    architecture: dict, data: Tensor, recipe: ddpm.Recipe, seed: int, *, start: tuple[nn.Module, str] | None = None,
    replay: Tensor | None = None, desc: str = "training", folder: Path | None = None,
    schedule: DDPMScheduler | None = None,
) -> tuple[nn.Module, str]:
    """A model trained on data, from scratch (a `ddpm.unet(**architecture)`) or from a copy of
    `start` = (model, its key), loaded from the cache when it was trained before. Returns the model
    and its key."""
    key = fingerprint(
        architecture=architecture, data=data, recipe=asdict(recipe), seed=seed,
        start=start[1] if start else "scratch", replay=replay if replay is not None else "none",
        schedule=dict(schedule.config) if schedule else "default", code=code(TRAINING_CODE),
        versions={name: metadata.version(name) for name in ("torch", "diffusers")},
    )[:24]
    template = start[0] if start else ddpm.unet(**architecture, seed=seed)

    def make() -> nn.Module:
        return ddpm.train(copy.deepcopy(template), data, recipe, seed, replay, desc, schedule)

    return cached(key, make, template, folder or CHECKPOINTS), key


def cached(key: str, make: Callable[[], nn.Module], template: nn.Module, folder: Path) -> nn.Module:
    """The weights saved under `key` in folder, loaded into a copy of `template`; or `make()`,
    saved there first.

    The file is written under a temporary name and renamed into place, so a killed run leaves no
    file that looks finished; the temporary files of killed runs are removed by the next save.
    """
    path = folder / f"{key}.safetensors"
    if path.exists():
        model = copy.deepcopy(template)
        model.load_state_dict(load_file(path))
        return model.eval()
    model = make()
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{key}.safetensors.partial-*"):
        stale.unlink(missing_ok=True)
    partial = folder / f"{key}.safetensors.partial-{os.getpid()}"
    save_file({name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}, partial)
    partial.replace(path)
    return model
