"""The Hopfield energy landscape of a set of images: the energy and sharpness at each image.

Images are flattened and scaled to unit norm; the memories are the Task-1 training images, so the
energy of an image is low when it has many close neighbours (a broad basin) and high when it is
isolated (Takeda, Oizumi, Karakida 2026, Section 3.3). Both quantities are computed a tile of images
at a time, so tens of thousands of images never need their full score matrix.
"""

import torch
from torch import Tensor

from hopbook.hopfield import energy, hessian_trace


def flatten_normalised(images: Tensor) -> Tensor:
    """Images as unit-norm float32 vectors, the memories and states of the Hopfield energy."""
    x = images.reshape(len(images), -1).float()
    return x / x.norm(dim=1, keepdim=True)


def image_energy(images: Tensor, memories: Tensor, beta: float, tile: int = 2048, device: str = "cpu") -> Tensor:
    """Hopfield energy of each image against all memory images, streamed in tiles: at CIFAR scale
    (25,000 x 25,000 images) no score matrix is ever held whole."""
    X = flatten_normalised(memories).to(device)
    x = X if images is memories else flatten_normalised(images).to(device)  # one copy when they are one set
    return energy(x, X, beta, tile=tile).cpu()


def image_sharpness(images: Tensor, memories: Tensor, beta: float, tile: int = 2048, device: str = "cpu") -> Tensor:
    """The trace of the energy's Hessian at each image, exact (see hopfield.hessian_trace), a tile
    of images at a time: memory stays at tile x n_memories."""
    X = flatten_normalised(memories).to(device)
    rows = flatten_normalised(images).to(device).split(tile)
    return torch.cat([hessian_trace(x, X, beta) for x in rows]).cpu()
