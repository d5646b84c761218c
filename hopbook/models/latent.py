"""Latent diffusion: the paper's Stable Diffusion v1.5 experiment (Section 4.3, Fig. 3b; Fig. 5).

The pipeline is loaded with diffusers from a local folder or a hub id already in the local cache.
Only the UNet is trained, unconditionally (every call gets the empty prompt's text embedding); the
VAE is frozen and maps images to latents and back, so the noise is added to latents and the
reconstruction error is measured in pixels, as in the paper. The protocol is `hopbook.continual.continual`.
"""

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, StableDiffusionPipeline
from torch import Tensor, nn

from hopbook.book.fingerprint import code, fingerprint
from hopbook.data import available


class LatentDenoiser(nn.Module):
    """A text-conditioned UNet made unconditional: it always sees the empty prompt."""

    def __init__(self, unet: nn.Module, empty_prompt: Tensor) -> None:
        super().__init__()
        self.unet = unet
        self.register_buffer("empty_prompt", empty_prompt)

    def forward(self, z: Tensor, t: Tensor):
        context = self.empty_prompt.to(z.dtype).expand(len(z), -1, -1)
        return self.unet(z, t, encoder_hidden_states=context)


class Autoencoder:
    """The frozen VAE of a pipeline as encode / decode between pixel images in [-1, 1] of side
    `size` and scaled latents of images resized to side `resolution`."""

    def __init__(self, vae: nn.Module, size: int, resolution: int) -> None:
        self.vae = vae.eval().requires_grad_(False)
        self.size, self.resolution = size, resolution
        self.scale = vae.config.scaling_factor

    @torch.inference_mode()
    def encode(self, images: Tensor) -> Tensor:
        x = F.interpolate(images.expand(-1, 3, -1, -1), size=self.resolution, mode="bilinear", align_corners=False)
        return self.vae.encode(x.to(self.vae.dtype)).latent_dist.mean.float() * self.scale

    @torch.inference_mode()
    def decode(self, latents: Tensor) -> Tensor:
        x = self.vae.decode((latents / self.scale).to(self.vae.dtype)).sample.float().clamp(-1, 1)
        return F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)

    def latents(self, images: Tensor, batch_size: int) -> Tensor:
        """The latents of many images, encoded a batch at a time, on the CPU."""
        device = next(self.vae.parameters()).device
        return torch.cat([self.encode(x.to(device)).cpu() for x in images.split(batch_size)])


def load_pipeline(source: str) -> StableDiffusionPipeline:
    """A Stable Diffusion pipeline from a local folder or a cached hub id, without network."""
    available.pipeline(source)
    return StableDiffusionPipeline.from_pretrained(source, local_files_only=True, safety_checker=None)


def checkpoint_key(denoiser: LatentDenoiser) -> str:
    """The cache key of a pretrained denoiser as the starting model of continual training: its weights
    and the code of this module, which wraps it."""
    return fingerprint(code=code([__name__]), **denoiser.state_dict())


def parts(
    pipe: StableDiffusionPipeline, size: int, resolution: int, device: str,
) -> tuple[LatentDenoiser, Autoencoder, DDPMScheduler]:
    """The trainable denoiser, the frozen autoencoder (pixel images of side `size`, encoded at side
    `resolution`) and a DDPM scheduler with the pipeline's noise schedule."""
    pipe.to(device)
    empty, _ = pipe.encode_prompt([""], device, 1, do_classifier_free_guidance=False)
    pipe.text_encoder.requires_grad_(False)
    denoiser = LatentDenoiser(pipe.unet.float(), empty.detach().float())  # trained in float32 (bf16 by autocast)
    return denoiser, Autoencoder(pipe.vae, size, resolution), DDPMScheduler.from_config(pipe.scheduler.config)
