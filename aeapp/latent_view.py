"""A picture of the latent code: its first three principal components as colours."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch



def latent_picture(encoded, level: int | None = 0) -> np.ndarray:
    """Float32 HxWx3 [0,1] picture of one tensor of an encoded image's latent (an
    aeapp.engine.EncodedImage), at the image's size.

    level: which skip tensor (0 = finest, the most detailed), or None for the coarsest code.
    Each latent position is coloured by its projection on the tensor's first three principal
    components, fitted away from the outermost ring (padding effects there would otherwise
    take a component), stretched between the 1st and 99th percentiles and enlarged with
    nearest neighbour so each position shows as a block.
    """
    latent, size = encoded.latent, encoded.size
    t = latent.code if level is None or not latent.skips else latent.skips[min(level, len(latent.skips) - 1)]
    c, h, w = t.shape[1:]
    step = latent.input.shape[-2] / h  # input pixels per latent position
    h_used, w_used = min(h, math.ceil(size[0] / step)), min(w, math.ceil(size[1] / step))
    x = t[0, :, :h_used, :w_used].float().cpu()
    inner = x[:, 1:-1, 1:-1] if h_used > 4 and w_used > 4 else x
    fit = inner.reshape(c, -1).T
    mean = fit.mean(dim=0, keepdim=True)
    k = min(3, c, fit.shape[0])
    flat = x.reshape(c, -1).T - mean
    if k == 0 or float((fit - mean).abs().max()) == 0.0:
        rgb = np.zeros((h_used, w_used, 3), np.float32)
    else:
        _, _, v = torch.linalg.svd(fit - mean, full_matrices=False)
        proj = (flat @ v[:k].T).numpy()
        if k < 3:
            proj = np.pad(proj, ((0, 0), (0, 3 - k)))
        lo, hi = np.percentile(proj, 1, axis=0), np.percentile(proj, 99, axis=0)
        rgb = np.clip((proj - lo) / np.maximum(hi - lo, 1e-6), 0, 1).reshape(h_used, w_used, 3).astype(np.float32)
    return cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
