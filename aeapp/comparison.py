"""Score a repair against a known original, and run the classical peers on the same input.

Shared by the app (side-by-side comparison) and the benchmark. Images are float32 HxWx3
in [0,1]; masks are bool HxW, True = repaired pixels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import metrics, peers


def quality(original: np.ndarray, estimate: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """PSNR and SSIM of the whole image, plus PSNR inside the mask when it has pixels."""
    out = {"psnr": metrics.psnr(original, estimate)}
    if min(original.shape[:2]) >= 7:
        out["ssim"] = metrics.ssim(original, estimate)
    if mask is not None and mask.any():
        out["psnr_holes"] = metrics.psnr(original, estimate, mask)
    return out


@dataclass
class PeerResult:
    name: str
    image: np.ndarray
    seconds: float


def run_peers(image: np.ndarray, mask: np.ndarray, sigma: float | None = None) -> list[PeerResult]:
    """OpenCV's Telea and Navier-Stokes inpainting when there are holes; otherwise OpenCV's
    non-local means denoising (sigma estimated from the image unless given)."""
    if mask.any():
        methods = [("OpenCV Telea", lambda: peers.inpaint_telea(image, mask)), ("OpenCV Navier-Stokes", lambda: peers.inpaint_ns(image, mask))]
    else:
        methods = [("OpenCV non-local means", lambda: peers.denoise_nlm(image, sigma=sigma))]
    results = []
    for name, fn in methods:
        t = time.perf_counter()
        out = fn()
        results.append(PeerResult(name, out, time.perf_counter() - t))
    return results
