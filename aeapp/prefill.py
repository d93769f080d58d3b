"""What the fill network finds in the holes on its first pass.

Starting from a plausible fill rather than black keeps the hole errors small, so the network
learns a correction instead of the whole content. The default, OpenCV's Telea inpainting,
is also the classical peer aeapp is measured against: the network is trained to improve on
it. Images are float32 HxWx3 in [0,1]; masks bool HxW, True = hole.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from . import peers
from .edge_solve import blend_edge_band


def coarse_fill(image: torch.Tensor, mask: torch.Tensor, scales=(4, 16, 64)) -> torch.Tensor:
    """Holes (mask 1) filled with local averages of the known pixels: normalised
    convolution at a few scales, the finest scale with enough known pixels winning.

    NCHW tensors in and out; known pixels kept.
    """
    known = 1.0 - mask
    h, w = image.shape[-2:]
    weighted = image * known
    total = known.sum(dim=(2, 3), keepdim=True)
    fill = (weighted.sum(dim=(2, 3), keepdim=True) / total.clamp_min(1e-6)).expand_as(image)
    for s in sorted(scales, reverse=True):
        if s >= min(h, w):
            continue
        num = F.interpolate(F.avg_pool2d(weighted, s, s, ceil_mode=True), size=(h, w), mode="bilinear", align_corners=False)
        den = F.interpolate(F.avg_pool2d(known, s, s, ceil_mode=True), size=(h, w), mode="bilinear", align_corners=False)
        fill = torch.where(den > 0.05, num / den.clamp_min(1e-6), fill)
    return weighted + fill * mask


def prefill(image: np.ndarray, mask: np.ndarray, method: str) -> np.ndarray:
    """The image with its holes filled by `method` (see `ModelConfig.prefill`)."""
    if not mask.any():
        return image
    if method == "telea":
        return peers.inpaint_telea(image, mask)
    if method in ("telea_ns", "telea_ns_band"):
        # OpenCV's inpainting is single-threaded and releases the GIL: run the two side by side.
        with ThreadPoolExecutor(max_workers=1) as pool:
            ns = pool.submit(peers.inpaint_ns, image, mask)
            telea = peers.inpaint_telea(image, mask)
            telea += ns.result()
            telea *= 0.5
        return telea if method == "telea_ns" else blend_edge_band(telea, mask)
    holes_zeroed = np.where(mask[..., None], 0.0, image).astype(np.float32)
    if method == "zeros":
        return holes_zeroed
    if method == "coarse":
        x = torch.from_numpy(holes_zeroed).permute(2, 0, 1)[None]
        m = torch.from_numpy(mask.astype(np.float32))[None, None]
        return coarse_fill(x, m)[0].permute(1, 2, 0).numpy()
    raise ValueError(f"unknown prefill {method!r}")
