"""A fast estimate of an image's noise level, for networks conditioned on it.

The estimate is the median absolute value of the finest diagonal Haar wavelet coefficients
divided by 0.6745 (Donoho and Johnstone's robust estimator): the diagonal detail of a photo
is mostly noise, and the median ignores the edges that are not. A restore network that reads
this estimate as an input (FFDNet's noise map, `ModelConfig.noise_level_input`) is told how
strong the noise is rather than having to infer it from the structure of photographs it was
trained on, and the user still gives nothing: the estimate comes from the photo.
"""

from __future__ import annotations

import numpy as np
import torch

MAD_TO_SIGMA = 0.6745  # the median of |N(0, 1)|
# The map holds sigma / 50 (0..255 scale): about 1 for the strongest noise trained on.
MAP_SCALE = 255.0 / 50.0
# Above this many coefficients per image a strided subset gives the same median to well
# under a percent, at a fraction of the time on a 24 MP photo.
MAX_COEFFICIENTS = 1 << 21


def estimate_sigma(images: torch.Tensor) -> torch.Tensor:
    """Noise sigma (0..1 scale) of each image in an (N, C, H, W) batch, as an (N,) tensor."""
    x = images.float()
    h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    if h == 0 or w == 0:
        return x.new_zeros(x.shape[0])
    x = x[..., :h, :w]
    diagonal = (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2
    coefficients = diagonal.abs().flatten(1)
    step = max(1, coefficients.shape[1] // MAX_COEFFICIENTS)
    return coefficients[:, ::step].median(dim=1).values / MAD_TO_SIGMA


def estimate_sigma_array(image: np.ndarray) -> float:
    """`estimate_sigma` of one float HxWx3 array in [0, 1]."""
    return float(estimate_sigma(torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None])[0])


def level_map(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """The (N, 1, H, W) input channel for (N,) sigmas, shaped and typed like `like`."""
    n, _, h, w = like.shape
    return (sigma.to(like.device, like.dtype) * MAP_SCALE).reshape(-1, 1, 1, 1).expand(n, 1, h, w)
