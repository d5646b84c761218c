"""Trained diffusion models, cached as safetensors checkpoints under the key of what determines them.

A checkpoint's key covers the architecture, the data (by its bytes), the training recipe, the seed,
the starting model's key, the replay buffer, the noise schedule, the torch and diffusers versions
and the code that trains (`TRAINING_CODE`, docstrings and comments aside): a rerun with the same
key loads the weights instead of training again.
"""

import copy
import os
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from diffusers import DDPMScheduler
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from hopbook.models import ddpm
from hopbook.book.fingerprint import code, fingerprint

CHECKPOINTS = Path(os.environ.get("HOPBOOK_CHECKPOINTS", Path(__file__).resolve().parents[2] / "runs" / "checkpoints"))
TRAINING_CODE = ("hopbook.models.ddpm", "hopbook.models.checkpoints")


def trained(
    architecture: dict, data: Tensor, recipe: ddpm.Recipe, seed: int, *, start: tuple[nn.Module, str] | None = None,
    replay: Tensor | None = None, desc: str = "training", folder: Path | None = None,
    schedule: DDPMScheduler | None = None,
) -> tuple[nn.Module, str]:
    """A model trained on data, from scratch (a `ddpm.unet(**architecture)`) or from a copy of
    `start` = (model, its key), loaded from the cache when it was trained before. Returns the model
    and its key."""
    return trained_together(architecture, [data], recipe, seed, start=start, replays=[replay], desc=desc,
                            folder=folder, schedule=schedule)[0]


def trained_together(
    architecture: dict, datasets: list[Tensor], recipe: ddpm.Recipe, seed: int, *,
    start: tuple[nn.Module, str] | None = None, replays: list[Tensor | None], desc: str = "training",
    folder: Path | None = None, schedule: DDPMScheduler | None = None, together: bool = True,
) -> list[tuple[nn.Module, str]]:
    """`trained` for one model per dataset and replay buffer, all from the same start and seed: the
    cached ones are loaded, the others trained as one ensemble (ddpm.train_together), or one after
    another when `together` is False. Each model has the key it would have alone."""
    folder = folder or CHECKPOINTS
    keys = [checkpoint_key(architecture, data, recipe, seed, start, replay, schedule)
            for data, replay in zip(datasets, replays, strict=True)]
    template = start[0] if start else ddpm.unet(**architecture, seed=seed)
    paths = {key: folder / f"{key}.safetensors" for key in keys}
    models = {key: load(path, template) for key, path in paths.items() if path.exists()}
    todo = {key: (data, replay) for key, data, replay in zip(keys, datasets, replays) if key not in models}
    if len(todo) > 1 and together:
        jobs = list(todo.values())
        new = ddpm.train_together([copy.deepcopy(template) for _ in jobs], [d for d, _ in jobs], recipe,
                                  [seed] * len(jobs), [r for _, r in jobs], desc, schedule)
    else:
        new = [ddpm.train(copy.deepcopy(template), data, recipe, seed, replay, desc, schedule)
               for data, replay in todo.values()]
    for key, model in zip(todo, new):
        save(model, folder, key)
        models[key] = model
    return [(models[key], key) for key in keys]


def checkpoint_key(architecture: dict, data: Tensor, recipe: ddpm.Recipe, seed: int,
                   start: tuple[nn.Module, str] | None, replay: Tensor | None, schedule: DDPMScheduler | None) -> str:
    """The cache key of a trained model: everything that determines its weights."""
    return fingerprint(
        architecture=architecture, data=data, recipe=asdict(recipe), seed=seed,
        start=start[1] if start else "scratch", replay=replay if replay is not None else "none",
        schedule=dict(schedule.config) if schedule else "default", code=code(TRAINING_CODE),
        versions={name: metadata.version(name) for name in ("torch", "diffusers")},
    )[:24]


def load(path: Path, template: nn.Module) -> nn.Module:
    """The weights saved at path, in a copy of `template`."""
    model = copy.deepcopy(template)
    model.load_state_dict(load_file(path))
    return model.eval()


def save(model: nn.Module, folder: Path, key: str) -> None:
    """Save the weights as folder/KEY.safetensors.

    The file is written under a temporary name and renamed into place, so a killed run leaves no
    file that looks finished; the temporary files of killed runs are removed by the next save.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{key}.safetensors.partial-*"):
        stale.unlink(missing_ok=True)
    partial = folder / f"{key}.safetensors.partial-{os.getpid()}"
    save_file({name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}, partial)
    partial.replace(folder / f"{key}.safetensors")
