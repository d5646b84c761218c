"""The latent (Stable Diffusion) option, on a tiny randomly initialised pipeline built from configs."""

import json

import pytest
import torch
from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from conftest import hopbook
from hopbook import continual, reconstruction
from hopbook.data import available, images
from hopbook.models import ddpm, latent


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    """A Stable Diffusion pipeline of the real classes, a few thousand parameters each, saved to disk."""
    folder = tmp_path_factory.mktemp("tiny-sd")
    torch.manual_seed(0)
    words = ["<|startoftext|>", "<|endoftext|>", "a</w>", "digit</w>"]
    (folder / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(words)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=8)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32,
                                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=8))
    unet = UNet2DConditionModel(
        sample_size=4, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=8,
    )
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16),
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        norm_num_groups=8, sample_size=8)
    scheduler = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.to(torch.float32)  # whatever default dtype other test modules set
    pipe.save_pretrained(folder / "pipeline")
    return folder / "pipeline"


def test_missing_weights_fail_at_once_saying_what_to_do(tmp_path):
    with pytest.raises(available.WeightsMissing, match="not on this machine"):
        latent.load_pipeline(str(tmp_path / "no-pipeline"))
    with pytest.raises(available.WeightsMissing, match="hf download no-such-org/no-such-pipeline"):
        latent.load_pipeline("no-such-org/no-such-pipeline")


@pytest.mark.slow
def test_the_latent_protocol_trains_the_unet_only_and_scores_in_pixels(tiny_pipeline, tmp_path):
    pipe = latent.load_pipeline(str(tiny_pipeline))
    denoiser, vae, schedule = latent.parts(pipe, size=16, resolution=8, device="cpu")
    vae_before = [p.clone() for p in pipe.vae.parameters()]
    unet_before = [p.clone() for p in pipe.unet.parameters()]
    task1, task2 = (t[:12] for t in images.tasks("digits", "class"))
    codes = vae.latents(task1, batch_size=5)
    assert codes.shape == (12, 4, 4, 4)
    recipe = ddpm.Recipe(steps=2, batch_size=4, lr=1e-3, warmup=1)

    def score(model):
        return reconstruction.reconstruction_mse(model, task1.expand(-1, 3, -1, -1), t0=100, n_steps=2, generations=1,
                                            batch_size=6, seed=0, schedule=schedule, encode=vae.encode, decode=vae.decode)

    buffers = {"none": None, "top": torch.tensor([0, 1])}
    mse = continual.continual({"pretrained": "tiny"}, codes, {"class": vae.latents(task2, 5)}, buffers, (recipe, recipe),
                              0, score, start=(denoiser, "tiny"), schedule=schedule, folder=tmp_path)
    scores = [mse.after_task1, *mse.after_task2["class"].values()]
    assert list(mse.after_task2["class"]) == ["none", "top"]
    assert all(v.shape == (12,) and torch.isfinite(v).all() for v in scores)
    assert all(torch.equal(a, b) for a, b in zip(vae_before, pipe.vae.parameters()))  # the VAE is frozen
    assert all(torch.equal(a, b) for a, b in zip(unet_before, pipe.unet.parameters()))  # trained on copies
    assert len(list(tmp_path.glob("*.safetensors"))) == 3


@pytest.mark.slow
def test_the_chapter_runs_its_latent_section_when_given_a_pipeline(tiny_pipeline, tmp_path):
    out = tmp_path / "run"
    done = hopbook(
        "run", "diffusion-forgetting", "--profile", "smoke", "-p", "sd_model", str(tiny_pipeline),
        "-p", "sd_resolution", "8", "-p", "sd_task1_steps", "2", "-p", "sd_task2_steps", "2", "--out", str(out),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    claims = {c["id"]: c for c in json.loads((out / "results.json").read_text())["claims"]}
    assert {"latent-energy-forgetting", "latent-aggregate-order"} <= claims.keys()
    assert set(claims["latent-aggregate-order"]["measured"]) == {"top", "random", "bottom"}


def test_the_chapter_refuses_absent_weights_before_training(tmp_path):
    done = hopbook("run", "diffusion-forgetting", "--profile", "smoke", "-p", "sd_model", str(tmp_path / "none"),
                   "--out", str(tmp_path / "run"))
    assert done.returncode != 0
    assert "parameter 'sd_model'" in done.stderr and "not on this machine" in done.stderr
    assert not (tmp_path / "run").exists()  # refused before anything ran


def test_a_pretrained_start_is_keyed_by_its_weights(tiny_pipeline):
    denoiser, _, _ = latent.parts(latent.load_pipeline(str(tiny_pipeline)), size=16, resolution=8, device="cpu")
    key = latent.checkpoint_key(denoiser)
    assert latent.checkpoint_key(denoiser) == key
    with torch.no_grad():
        next(denoiser.parameters()).add_(1e-3)
    assert latent.checkpoint_key(denoiser) != key
