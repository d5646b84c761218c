"""Image loaders, the streamed energy, the reconstruction metric, continual training and the checkpoint cache."""

import copy
import pickle
import struct

import numpy as np
import pytest
import torch
from diffusers.models.unets.unet_2d import UNet2DOutput

from conftest import REPO, hopbook
from hopbook import continual, image_energy, reconstruction
from hopbook.data import available, images
from hopbook.models import checkpoints, ddpm
from hopbook.hopfield import energy


# ---- loaders, on small files written in each dataset's real on-disk format ----

def write_idx(path, array: np.ndarray, magic: int) -> None:
    """MNIST's idx format: big-endian magic and sizes, then the uint8 values."""
    path.write_bytes(struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    labels = np.arange(20) % 10
    pixels = np.zeros((20, 28, 28), dtype=np.uint8)
    pixels[:, 10:18, 12:16] = 255  # a bar
    for split, n in (("train", 20), ("t10k", 4)):
        write_idx(raw / f"{split}-images-idx3-ubyte", pixels[:n], 2051)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels[:n], 2049)
    return tmp_path


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    pixels = np.zeros((10, 3, 32, 32), dtype=np.uint8)
    pixels[:, 1], pixels[:, 2] = 128, 255  # red 0, green 128, blue 255 in every image
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": pixels.reshape(10, -1), "labels": list(range(10))}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    # torchvision checks the real files' MD5 sums; these small ones are checked for existence only
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda path, md5=None: (tmp_path / path).exists())
    return tmp_path


def test_digits_ship_upsampled_to_16x16_in_the_ddpm_range():
    x, y = images.load("digits")
    assert x.shape == (1797, 1, 16, 16) and x.dtype == torch.float32
    assert x.min() == -1 and x.max() == 1
    task1, task2 = images.tasks("digits", "class")
    assert len(task1) == int((y < 5).sum()) and len(task2) == int((y >= 5).sum())


def test_mnist_loads_from_torchvision_files(mnist_root):
    x, y = images.load("mnist", root=mnist_root)
    assert x.shape == (20, 1, 28, 28)
    assert x[0, 0, 12, 13] == 1 and x[0, 0, 0, 0] == -1
    assert y.tolist() == (np.arange(20) % 10).tolist()
    task1, task2 = images.tasks("mnist", "class", root=mnist_root)
    assert len(task1) == len(task2) == 10


def test_cifar10_loads_channels_first_and_splits_living_from_non_living(cifar_root):
    x, y = images.load("cifar10", root=cifar_root)
    assert x.shape == (50, 3, 32, 32)
    assert torch.allclose(x[0, :, 5, 5], torch.tensor([-1.0, 128 / 255 * 2 - 1, 1.0], dtype=torch.float32), atol=1e-6)
    task1, task2 = images.tasks("cifar10", "class", root=cifar_root)
    assert len(task1) == len(task2) == 25  # five classes each, five batches of one image per class
    living = torch.isin(y, torch.tensor([2, 3, 4, 5, 7]))  # bird cat deer dog horse
    assert torch.equal(task1, x[living])


def test_a_missing_dataset_fails_at_once_saying_how_to_fetch_it(tmp_path):
    with pytest.raises(available.DatasetMissing, match="hopbook fetch cifar10"):
        available.dataset("cifar10", root=tmp_path)
    with pytest.raises(available.DatasetMissing, match="hopbook fetch mnist"):
        images.tasks("mnist", "class", root=tmp_path)


@pytest.mark.skipif((REPO / "data" / "cifar-10-batches-py").exists(), reason="CIFAR-10 was fetched here")
def test_the_chapter_refuses_missing_cifar10_before_running(tmp_path):
    out = tmp_path / "out"
    result = hopbook("run", "diffusion-forgetting", "--profile", "smoke", "-p", "dataset", "cifar10", "--out", str(out))
    assert result.returncode != 0
    assert "parameter 'dataset'" in result.stderr and "hopbook fetch cifar10" in result.stderr
    assert not out.exists()


def test_rotation_by_a_quarter_turn_moves_pixels_exactly():
    x = images.load("digits")[0][:4]
    assert torch.allclose(images.rotate(x, 0.0), x)
    assert torch.allclose(images.rotate(x, 90.0), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5)
    rotated = images.tasks("digits", "domain", angle=30.0)[1]
    assert rotated.shape == images.tasks("digits", "class")[0].shape


# ---- the Hopfield energy, streamed in tiles ----

@pytest.mark.parametrize("tile", [1, 7, 64, 10_000])
def test_tiled_energy_equals_the_direct_log_sum_exp(tile):
    gen = torch.Generator().manual_seed(0)
    X = image_energy.flatten_normalised(torch.randn(150, 3, 4, 4, generator=gen))
    x = image_energy.flatten_normalised(torch.randn(40, 3, 4, 4, generator=gen))
    for beta in (0.5, 20.0, 800.0):  # the largest overflows exp in float32 unless done stably
        streamed = energy(x, X, beta, tile=tile)
        direct = energy(x.double(), X.double(), beta)
        assert torch.isfinite(streamed).all()
        assert torch.allclose(streamed.double(), direct, atol=1e-5)


def test_image_energy_is_lowest_for_images_with_close_neighbours():
    gen = torch.Generator().manual_seed(1)
    centre = torch.randn(1, 1, 8, 8, generator=gen)
    cluster = centre + 0.05 * torch.randn(20, 1, 8, 8, generator=gen)
    loner = torch.randn(1, 1, 8, 8, generator=gen)
    data = torch.cat([cluster, loner])
    e = image_energy.image_energy(data, data, beta=20.0, tile=4)
    assert e[-1] > e[:-1].max()


def test_replay_buffers_pick_by_energy():
    e = torch.tensor([0.3, 0.1, 0.9, 0.5, 0.7])
    assert continual.replay_buffer(e, 2, "none", 0) is None
    assert set(continual.replay_buffer(e, 2, "top", 0).tolist()) == {2, 4}
    assert set(continual.replay_buffer(e, 2, "bottom", 0).tolist()) == {0, 1}
    drawn = continual.replay_buffer(e, 3, "random", 0)
    assert len(set(drawn.tolist())) == 3 and torch.equal(drawn, continual.replay_buffer(e, 3, "random", 0))
    with pytest.raises(ValueError, match="unknown replay policy"):
        continual.replay_buffer(e, 2, "best", 0)


# ---- reconstruction forgetting ----

class Oracle(torch.nn.Module):
    """Predicts the exact noise that turns `target` into the noisy input: the ideal denoiser of a
    data set holding only `target` (one image per batch row)."""

    def __init__(self, target):
        super().__init__()
        self.target = target
        self.alphas = ddpm.noise_scheduler().alphas_cumprod

    def forward(self, x, t):
        a = self.alphas[t]
        return UNet2DOutput(sample=(x - a.sqrt() * self.target) / (1 - a).sqrt())


def test_reconstruction_of_a_perfectly_remembered_image_is_exact():
    x = images.load("digits")[0][:6]
    for t0, steps in ((200, 10), (999, 3), (50, 51)):
        mse = reconstruction.reconstruction_mse(Oracle(x), x, t0=t0, n_steps=steps, generations=2, batch_size=6, seed=0)
        assert mse.shape == (6,) and mse.max() < 1e-10


def test_reconstruction_error_is_the_distance_to_what_the_model_remembers():
    x = images.load("digits")[0][:6]
    other = x.roll(1, dims=0)  # each image remembered as its neighbour
    mse = reconstruction.reconstruction_mse(Oracle(other), x, t0=300, n_steps=20, generations=3, batch_size=6, seed=0)
    assert torch.allclose(mse, ((x - other) ** 2).flatten(1).mean(1), atol=1e-5)


# ---- continual training and the checkpoint cache ----

ARCH = {"channels": 1, "size": 16, "width": 8, "levels": 2}
RECIPE = ddpm.Recipe(steps=3, batch_size=8, lr=1e-3, warmup=1)


def weights(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.slow
def test_training_is_deterministic_and_cached_by_everything_that_determines_it(tmp_path):
    data = images.load("digits")[0][:32]
    model, key = checkpoints.trained(ARCH, data, RECIPE, seed=0, folder=tmp_path / "a")
    again, same_key = checkpoints.trained(ARCH, data, RECIPE, seed=0, folder=tmp_path / "b")
    assert key == same_key and torch.equal(weights(model), weights(again))
    assert [p.name for p in (tmp_path / "a").iterdir()] == [f"{key}.safetensors"]
    changed = {
        checkpoints.trained(ARCH, data, RECIPE, seed=1, folder=tmp_path)[1],
        checkpoints.trained(ARCH, data.flip(0), RECIPE, seed=0, folder=tmp_path)[1],
        checkpoints.trained(ARCH, data, ddpm.Recipe(4, 8, 1e-3, warmup=1), seed=0, folder=tmp_path)[1],
        checkpoints.trained(ARCH, data, RECIPE, seed=0, start=(model, key), folder=tmp_path)[1],
        checkpoints.trained(ARCH, data, RECIPE, seed=0, start=(model, key), replay=data[:4], folder=tmp_path)[1],
    }
    assert len(changed) == 5 and key not in changed


@pytest.mark.slow
def test_a_cached_checkpoint_is_loaded_not_retrained(tmp_path, monkeypatch):
    data = images.load("digits")[0][:32]
    model, _ = checkpoints.trained(ARCH, data, RECIPE, seed=0, folder=tmp_path)
    monkeypatch.setattr(ddpm, "train", lambda *a, **k: pytest.fail("retrained a cached model"))
    loaded, _ = checkpoints.trained(ARCH, data, RECIPE, seed=0, folder=tmp_path)
    assert torch.equal(weights(loaded), weights(model))
    assert type(loaded) is type(model) and loaded.config == model.config


@pytest.mark.slow
def test_a_save_killed_midway_leaves_nothing_that_looks_finished(tmp_path, monkeypatch):
    data = images.load("digits")[0][:32]
    real_save = checkpoints.save_file

    def dies_after_writing_half(state, path, metadata=None):
        real_save(state, path, metadata=metadata)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints, "save_file", dies_after_writing_half)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.trained(ARCH, data, RECIPE, seed=0, folder=tmp_path)
    assert not list(tmp_path.glob("*.safetensors"))
    monkeypatch.setattr(checkpoints, "save_file", real_save)
    _, key = checkpoints.trained(ARCH, data, RECIPE, seed=0, folder=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"{key}.safetensors"]  # the debris is gone


@pytest.mark.slow
def test_an_ensemble_trains_each_model_as_it_would_train_alone():
    data = images.load("digits")[0][:64]
    start = ddpm.unet(**ARCH)
    jobs = [(data, None, 1), (data.flip(0), data[:4], 2), (data, data[10:20], 3)]  # data, replay buffer, seed
    alone = [ddpm.train(copy.deepcopy(start), d, RECIPE, s, r) for d, r, s in jobs]
    together = ddpm.train_together([copy.deepcopy(start) for _ in jobs], [d for d, _, _ in jobs], RECIPE,
                                   [s for _, _, s in jobs], [r for _, r, _ in jobs])
    moved = [(weights(m) - weights(start)).abs().max() for m in alone]
    for i, model in enumerate(together):
        assert not model.training
        gaps = [(weights(model) - weights(other)).abs().max() for other in alone]
        assert gaps[i] < 0.05 * moved[i]  # its own training, up to rounding (amplified by Adam)
        assert all(gap > 0.3 * moved[i] for j, gap in enumerate(gaps) if j != i)  # and no other model's


@pytest.mark.slow
def test_models_trained_together_are_cached_under_the_keys_they_would_have_alone(tmp_path, monkeypatch):
    data = images.load("digits")[0][:32]
    model, key = checkpoints.trained(ARCH, data, RECIPE, seed=0, folder=tmp_path)
    start = (model, key)
    pairs = checkpoints.trained_together(ARCH, [data, data.flip(0)], RECIPE, 1, start=start, replays=[None, data[:4]],
                                         folder=tmp_path)
    alone = [checkpoints.checkpoint_key(ARCH, d, RECIPE, 1, start, r, None) for d, r in [(data, None), (data.flip(0), data[:4])]]
    assert [k for _, k in pairs] == alone and all((tmp_path / f"{k}.safetensors").exists() for k in alone)
    monkeypatch.setattr(ddpm, "train_together", lambda *a, **k: pytest.fail("retrained cached models"))
    monkeypatch.setattr(ddpm, "train", lambda *a, **k: pytest.fail("retrained a cached model"))
    again = checkpoints.trained_together(ARCH, [data, data.flip(0)], RECIPE, 1, start=start, replays=[None, data[:4]],
                                         folder=tmp_path)
    assert all(torch.equal(weights(a), weights(b)) for (a, _), (b, _) in zip(pairs, again))


def test_replay_mixes_the_buffer_into_every_batch(monkeypatch):
    data, buffer = torch.zeros(90, 1, 16, 16, dtype=torch.float32), torch.ones(10, 1, 16, 16, dtype=torch.float32)
    seen = []
    real_add_noise = ddpm.DDPMScheduler.add_noise

    def spy(self, x0, noise, t):
        seen.append(x0.flatten(1).mean(1))
        return real_add_noise(self, x0, noise, t)

    monkeypatch.setattr(ddpm.DDPMScheduler, "add_noise", spy)
    ddpm.train(ddpm.unet(**ARCH), data, ddpm.Recipe(3, 20, 1e-3, warmup=1), seed=0, replay=buffer)
    assert [int(s.sum()) for s in seen] == [2, 2, 2]  # 20 x 10 / (90 + 10) buffer images per batch


@pytest.mark.slow
def test_the_paper_profile_shapes_train_and_reconstruct_in_bf16():
    """3-channel 32x32 images through a 4-level UNet with bf16 autocast: the paper profile's code path
    (run on a GPU there; bf16 autocast runs on the CPU too)."""
    data = torch.rand(6, 3, 32, 32, dtype=torch.float32) * 2 - 1
    model = ddpm.unet(channels=3, size=32, width=8, levels=4)
    recipe = ddpm.Recipe(steps=2, batch_size=4, lr=1e-3, warmup=1, precision="bf16")
    ddpm.train(model, data, recipe, seed=0)
    mse = reconstruction.reconstruction_mse(model, data, t0=100, n_steps=3, generations=1, batch_size=4, seed=0,
                                       precision="bf16")
    assert mse.shape == (6,) and torch.isfinite(mse).all()


@pytest.mark.slow
def test_continual_scores_every_model_and_names_rise_and_reduction(tmp_path):
    data = images.load("digits")[0][:24]
    calls = []

    def score(model):
        calls.append(model)
        return torch.full((24,), float(len(calls)))  # the n-th model scored scores n everywhere

    buffers = {"none": None, "top": torch.tensor([0, 1])}
    result = continual.continual(ARCH, data, {"class": data.flip(0)}, buffers, (RECIPE, RECIPE), 0, score, folder=tmp_path)
    assert set(result.after_task2) == {"class"} and set(result.after_task2["class"]) == {"none", "top"}
    assert result.after_task1.eq(1).all() and result.after_task2["class"]["top"].eq(3).all()
    assert result.rise("class").eq(2 - 1).all() and result.reduction("class", "top").eq(2 - 3).all()
    assert list(result.table().index) == ["after Task 1", "after Task 2 (class, replay none)", "after Task 2 (class, replay top)"]
