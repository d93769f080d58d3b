"""Pad images to the model's stride and crop them back: never resize, so known pixels
come back exactly."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_amounts(h: int, w: int, multiple: int) -> tuple[int, int]:
    """(rows, cols) to add at the bottom and right so both sides become multiples."""
    return (-h) % multiple, (-w) % multiple


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad an NCHW tensor at the bottom and right to sides divisible by `multiple`.

    Reflect padding where the image is large enough (it continues texture rather than
    inventing an edge); replicate padding for images smaller than the pad. Returns the padded
    tensor and the original (h, w) for `unpad`.
    """
    h, w = x.shape[-2:]
    ph, pw = pad_amounts(h, w, multiple)
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def unpad(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop an NCHW tensor back to `size` = (h, w)."""
    h, w = size
    return x[..., :h, :w]
