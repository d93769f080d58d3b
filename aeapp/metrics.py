"""Image quality metrics, from scikit-image rather than written here.

Images are float32 HxWx3 in [0,1]; masks are bool HxW, True where a pixel was repaired.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def _check(reference: np.ndarray, estimate: np.ndarray) -> None:
    if reference.shape != estimate.shape:
        raise ValueError(f"images differ in shape: {reference.shape} vs {estimate.shape}")


def psnr(reference: np.ndarray, estimate: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB over the whole image, or only over the pixels where `mask` is True.

    Identical inputs give infinity, as scikit-image does.
    """
    _check(reference, estimate)
    if mask is not None:
        if not mask.any():
            raise ValueError("the mask is empty: there are no pixels to measure")
        reference, estimate = reference[mask], estimate[mask]
    reference, estimate = reference.astype(np.float64), estimate.astype(np.float64)
    if np.array_equal(reference, estimate):
        return float("inf")
    return float(peak_signal_noise_ratio(reference, estimate, data_range=1.0))


def ssim(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Mean SSIM over the colour image (Gaussian window, as in Wang et al. 2004)."""
    _check(reference, estimate)
    if min(reference.shape[:2]) < 7:
        raise ValueError("SSIM needs an image at least 7 pixels on each side")
    return float(
        structural_similarity(
            reference.astype(np.float64),
            estimate.astype(np.float64),
            data_range=1.0,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )
