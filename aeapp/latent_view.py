"""A picture of the latent code: its first three principal components as colours."""

from __future__ import annotations

import cv2
import numpy as np
import torch


def latent_picture(code: torch.Tensor, size: tuple[int, int] | None = None) -> np.ndarray:
    """Float32 HxWx3 [0,1] picture of a (1, C, h, w) latent code.

    Each latent position becomes one pixel coloured by its projection on the code's first
    three principal components (robustly stretched to [0,1]); with `size` = (H, W) the
    picture is enlarged with nearest neighbour so each position shows as a block.
    """
    c, h, w = code.shape[1:]
    x = code[0].float().reshape(c, h * w).T.cpu()  # (positions, channels)
    x = x - x.mean(dim=0, keepdim=True)
    k = min(3, c, h * w)
    if k == 0 or float(x.abs().max()) == 0.0:
        rgb = np.zeros((h, w, 3), np.float32)
    else:
        _, _, v = torch.linalg.svd(x, full_matrices=False)
        proj = (x @ v[:k].T).numpy()
        if k < 3:
            proj = np.pad(proj, ((0, 0), (0, 3 - k)))
        lo, hi = np.percentile(proj, 1, axis=0), np.percentile(proj, 99, axis=0)
        rgb = np.clip((proj - lo) / np.maximum(hi - lo, 1e-6), 0, 1).reshape(h, w, 3).astype(np.float32)
    if size is not None:
        rgb = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
    return rgb
