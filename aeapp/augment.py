"""Classical augmentations (flip, rotation, crop, brightness, contrast, saturation).

torchvision.transforms.v2 does the work; this module only holds the settings, seeds the
draw, and keeps rotated images free of black corners. Images are float32 HxWx3 in [0,1]
and come back at their own size.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF


@dataclass(frozen=True)
class AugmentSettings:
    """Ranges of the random classical augmentations; zeros switch one off."""

    hflip: float = 0.5  # probability of a horizontal flip
    vflip: float = 0.0  # probability of a vertical flip
    rotation: float = 10.0  # maximum rotation in degrees, either way
    crop: float = 0.8  # smallest crop, as a fraction of the image area (1 = no crop)
    brightness: float = 0.2  # factor drawn from [1 - b, 1 + b]
    contrast: float = 0.2
    saturation: float = 0.2

    def __post_init__(self):
        for name in ("hflip", "vflip"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a probability between 0 and 1")
        if not 0.0 <= self.rotation <= 45.0:
            raise ValueError("rotation must be between 0 and 45 degrees")
        if not 0.1 <= self.crop <= 1.0:
            raise ValueError("crop must be between 0.1 and 1 (fraction of the area kept)")
        for name in ("brightness", "contrast", "saturation"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")

    def to_dict(self) -> dict:
        return asdict(self)


def _inscribed_fraction(h: int, w: int, degrees: float) -> float:
    """Largest scale s such that the centred (s*h, s*w) box fits inside the image rotated by
    `degrees`: cropping to it removes the empty corners a rotation leaves."""
    a = math.radians(abs(degrees))
    if a == 0:
        return 1.0
    c, s = math.cos(a), math.sin(a)
    return min(h / (h * c + w * s), w / (w * c + h * s))


def _rotate_without_corners(x: torch.Tensor, degrees: float) -> torch.Tensor:
    h, w = x.shape[-2:]
    rotated = TF.rotate(x, degrees, interpolation=v2.InterpolationMode.BILINEAR)
    f = _inscribed_fraction(h, w, degrees)
    # Two pixels less each way: bilinear sampling blends the edge with the empty corner.
    ch, cw = max(1, int(h * f) - 2), max(1, int(w * f) - 2)
    return TF.resize(TF.center_crop(rotated, [ch, cw]), [h, w], antialias=True)


def augment(image: np.ndarray, settings: AugmentSettings, seed: int) -> np.ndarray:
    """One random augmentation of `image` (float32 HxWx3 [0,1]), reproducible from `seed`."""
    h, w = image.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)
    steps = []
    if settings.hflip:
        steps.append(v2.RandomHorizontalFlip(settings.hflip))
    if settings.vflip:
        steps.append(v2.RandomVerticalFlip(settings.vflip))
    if settings.crop < 1.0 and min(h, w) > 1:
        steps.append(v2.RandomResizedCrop((h, w), scale=(settings.crop, 1.0), ratio=(w / h * 0.9, w / h * 1.1), antialias=True))
    if settings.brightness or settings.contrast or settings.saturation:
        steps.append(v2.ColorJitter(settings.brightness, settings.contrast, settings.saturation))
    # torchvision draws from torch's global generator: fork it so a seed fixes the draw and
    # the caller's random state is left alone.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        if settings.rotation and min(h, w) > 2:
            angle = float(torch.empty(1).uniform_(-settings.rotation, settings.rotation))
            x = _rotate_without_corners(x, angle)
        x = v2.Compose(steps)(x) if steps else x
    return x.clamp(0, 1).permute(1, 2, 0).contiguous().numpy()
