"""Image datasets and the two continual-learning task splits of the diffusion experiments.

Images come back as float32 tensors (n, channels, size, size) scaled to [-1, 1], the range a DDPM
is trained on, with integer labels. `digits` is scikit-learn's handwritten digits (1,797 real 8x8
scans that ship with the library), upsampled to 16x16; `mnist` and `cifar10` are read through
torchvision from data/ and must be fetched once with network (`hopbook fetch NAME`).

Task 1 is always the first class group. Task 2 is either the second group (class-incremental) or
the Task-1 images rotated by an angle (domain-incremental, the rotated-dataset setting of the theory).
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.v2 import functional as TF

from hopbook.data.available import DatasetMissing
from hopbook.data.corpus import DATA

DATASETS = ("digits", "mnist", "cifar10")
SCENARIOS = ("class", "domain")

# Task 1 / Task 2 classes. CIFAR-10 follows the paper exactly (living, then non-living, with frog
# placed in Task 2 as the paper does): bird cat deer dog horse | airplane automobile frog ship truck.
CLASS_GROUPS = {
    "digits": ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)),
    "mnist": ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)),
    "cifar10": ((2, 3, 4, 5, 7), (0, 1, 6, 8, 9)),
}
_TORCHVISION = {"mnist": "MNIST", "cifar10": "CIFAR10"}


def _torchvision_class(name: str):
    import torchvision.datasets

    return getattr(torchvision.datasets, _TORCHVISION[name])


def _open(name: str, root: Path):
    """The torchvision training set `name` read from root, or DatasetMissing saying what to do."""
    try:
        return _torchvision_class(name)(root=str(root), train=True, download=False)
    except RuntimeError:
        raise DatasetMissing(
            f"dataset {name!r} is not in {root}. Fetch it once with network: `hopbook fetch {name}` "
            f"(torchvision downloads it there), or use dataset=digits, which ships with scikit-learn."
        ) from None


def fetch(name: str, root: Path = DATA) -> None:
    """Download a torchvision dataset into root (needs network)."""
    if name not in _TORCHVISION:
        raise ValueError(f"only {', '.join(_TORCHVISION)} are fetched; digits ships with scikit-learn")
    _torchvision_class(name)(root=str(root), train=True, download=True)


def load(name: str, root: Path = DATA) -> tuple[Tensor, Tensor]:
    """The training images of a dataset in [-1, 1], shape (n, c, s, s), and their labels."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        pixels = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0
        images = F.interpolate(pixels, size=16, mode="bilinear", align_corners=False)
        labels = torch.tensor(digits.target)
    else:
        data = _open(name, root)
        pixels = torch.as_tensor(data.data).float() / 255.0
        images = pixels[:, None] if pixels.ndim == 3 else pixels.permute(0, 3, 1, 2)
        labels = torch.as_tensor(data.targets)
    return (images.clamp(0, 1) * 2 - 1).contiguous(), labels


def rotate(images: Tensor, angle: float) -> Tensor:
    """Images in [-1, 1] rotated by `angle` degrees about their centre, the uncovered corners black."""
    return TF.rotate(images, angle, interpolation=TF.InterpolationMode.BILINEAR, fill=-1.0)


def tasks(name: str, scenario: str, angle: float = 45.0, root: Path = DATA) -> tuple[Tensor, Tensor]:
    """(Task-1 images, Task-2 images) of a dataset under the class- or domain-incremental split."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    images, labels = load(name, root)
    first, second = (torch.isin(labels, torch.tensor(group)) for group in CLASS_GROUPS[name])
    task1 = images[first]
    task2 = images[second] if scenario == "class" else rotate(task1, angle)
    return task1, task2


def binarised(name: str, mean_pixel: float, root: Path = DATA) -> tuple[Tensor, Tensor]:
    """A dataset's images as +-1 patterns, ink +1 and background -1, shape (n, pixels), and their labels.

    Ink is every pixel brighter than the intensity quantile that leaves the dataset's mean pixel at
    `mean_pixel` (ties keep it at or just below): the share of ink, not a fixed cut, sets how much the
    patterns overlap. digits are scikit-learn's own 8x8 scans (64 pixels, values 0-16), not upsampled;
    mnist is 28x28 (784 pixels).
    """
    if not -1.0 < mean_pixel < 1.0:
        raise ValueError(f"mean_pixel must lie strictly between -1 and 1; got {mean_pixel}")
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        pixels, labels = torch.tensor(digits.images).flatten(1) / 16.0, torch.tensor(digits.target)
    else:
        images, labels = load(name, root)
        pixels = (images.flatten(1).double() + 1) / 2
    ink_share = (1.0 + mean_pixel) / 2
    threshold = np.quantile(pixels.numpy(), 1.0 - ink_share, method="inverted_cdf")
    return torch.where(pixels > float(threshold), 1.0, -1.0).double(), labels
