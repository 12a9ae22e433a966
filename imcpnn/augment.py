"""Training-time data augmentation for the image datasets, written with torch tensor ops (arXiv 2412.09010v1
Sec. 3.3: the CIFAR-10 CNN is trained with horizontal flips, rotations and crops; the paper gives no parameters).

Our parameters (the paper is silent), applied per mini-batch to images in [0, 1], shape ``[B, C, H, W]``:

* horizontal flip with probability 1/2;
* rotation by an angle drawn uniformly from [-``degrees``, ``degrees``] (default 10 degrees), bilinear,
  about the image centre; pixels that come from outside the image are 0;
* random crop of the original size from the image zero-padded by ``pad`` pixels on every side (default
  ``H // 8``: 4 for CIFAR-10's 32x32, 3 for Fashion-MNIST's 28x28), i.e. an integer shift of up to ``pad``.

Padding with 0 (a black pixel) means "no input spike in the phase" after the encoding t = 1 - x (Eq. 54).
All randomness comes from an explicit CPU :class:`torch.Generator`, so a batch is augmented identically on
every run and resume (deterministic on CPU: flips and crops are exact index operations, the rotation is a
fixed-order bilinear interpolation). The output stays in [0, 1] (convex combinations of inputs and 0).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["hflip", "random_crop", "random_rotation", "augment_batch", "default_pad", "DEGREES"]

#: default maximal rotation angle (degrees)
DEGREES = 10.0


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a float tensor of shape [B, C, H, W], got {shape}")


def _check_generator(generator: torch.Generator) -> None:
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise ValueError("generator must be a CPU torch.Generator (seeded by the caller)")


def default_pad(size: int) -> int:
    """The default crop padding for images of side ``size``: ``size // 8`` (4 for 32, 3 for 28)."""
    return max(0, int(size) // 8)


def hflip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Flip each image left-right with probability ``p`` in [0, 1]."""
    _check_images(x)
    _check_generator(generator)
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    flip = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def random_crop(x: torch.Tensor, generator: torch.Generator, pad: int) -> torch.Tensor:
    """Crop each image back to its size from a copy zero-padded by ``pad`` >= 0 pixels on every side (a random
    integer shift of up to ``pad`` pixels in each direction)."""
    _check_images(x)
    _check_generator(generator)
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise ValueError(f"pad must be an integer >= 0, got {pad!r}")
    if pad == 0:
        return x
    b, _, h, w = x.shape
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(x.device)
    xp = F.pad(x, (pad, pad, pad, pad))
    rows = dy[:, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = dx[:, None] + torch.arange(w, device=x.device)  # [B, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    out = xp.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C]
    return out.permute(0, 3, 1, 2).contiguous()


def random_rotation(x: torch.Tensor, generator: torch.Generator, degrees: float = DEGREES) -> torch.Tensor:
    """Rotate each image by an angle uniform in [-``degrees``, ``degrees``] (0 <= degrees <= 180) about its
    centre, bilinear, filling with 0."""
    _check_images(x)
    _check_generator(generator)
    if isinstance(degrees, bool) or not isinstance(degrees, (int, float)) or not 0.0 <= degrees <= 180.0:
        raise ValueError(f"degrees must be a number in [0, 180], got {degrees!r}")
    if degrees == 0:
        return x
    angle = (torch.rand(x.shape[0], generator=generator, dtype=torch.float64) * 2.0 - 1.0) * math.radians(degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    theta = theta.to(device=x.device, dtype=x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment_batch(
    x: torch.Tensor, generator: torch.Generator, *, flip: bool = True, pad: int | None = None, degrees: float = DEGREES
) -> torch.Tensor:
    """Flip, rotate, then crop a mini-batch (see the module docstring for the defaults); ``pad=None`` uses
    :func:`default_pad` of the image height."""
    _check_images(x)
    if flip:
        x = hflip(x, generator)
    x = random_rotation(x, generator, degrees)
    return random_crop(x, generator, default_pad(x.shape[-2]) if pad is None else pad)
