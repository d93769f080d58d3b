"""The classical methods a user would otherwise reach for, behind the same image convention.

Used by the app's side-by-side comparison and by the benchmark. Images are float32 HxWx3
in [0,1]; masks are bool HxW (True = repair). Each returns a new float32 image.
"""

from __future__ import annotations

import cv2
import numpy as np

from .image_io import to_uint8
from .noise_level import estimate_sigma_array


def _inpaint(image: np.ndarray, mask: np.ndarray, method: int, radius: int) -> np.ndarray:
    # OpenCV inpaints 8-bit images; the known pixels are put back exactly afterwards.
    # On a single row or column cv2.inpaint reads memory it never wrote (its output changes
    # from call to call), so such images are edge-padded to 3 pixels and cropped back.
    h, w = mask.shape
    ph, pw = max(0, 3 - h), max(0, 3 - w)
    pad = ((0, ph), (0, pw))
    src = np.pad(to_uint8(image), pad + ((0, 0),), mode="edge")
    holes = np.pad(mask.astype(np.uint8), pad, mode="edge")
    out = cv2.inpaint(src, holes, radius, method)[:h, :w]
    result = image.astype(np.float32)  # converting only the holes keeps a 24 MP fill's peak memory down
    result[mask] = out[mask].astype(np.float32) / 255.0
    return result


def inpaint_telea(image: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """OpenCV's fast marching inpainting (Telea 2004)."""
    return _inpaint(image, mask, cv2.INPAINT_TELEA, radius)


def inpaint_ns(image: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """OpenCV's Navier-Stokes inpainting (Bertalmio et al. 2001)."""
    return _inpaint(image, mask, cv2.INPAINT_NS, radius)


def inpaint_fsr(image: np.ndarray, mask: np.ndarray, best: bool = False) -> np.ndarray:
    """OpenCV-contrib's Frequency Selective Reconstruction (Genser, Seiler and Kaup 2018):
    each block's known pixels modelled as a sparse sum of Fourier basis functions, which
    continues textures and edges into thin holes. `best`: its slower, exhaustive mode."""
    h, w = mask.shape
    ph, pw = max(0, 16 - h), max(0, 16 - w)  # FSR works on blocks: tiny images are edge-padded
    pad = ((0, ph), (0, pw))
    src = np.pad(to_uint8(image), pad + ((0, 0),), mode="edge")
    known = np.pad((~mask).astype(np.uint8), pad, mode="edge")
    out = np.zeros_like(src)
    cv2.xphoto.inpaint(src, known, out, cv2.xphoto.INPAINT_FSR_BEST if best else cv2.xphoto.INPAINT_FSR_FAST)
    result = image.astype(np.float32)
    result[mask] = out[:h, :w][mask].astype(np.float32) / 255.0
    return result


def denoise_nlm(image: np.ndarray, sigma: float | None = None, h: float | None = None) -> np.ndarray:
    """OpenCV's fastNlMeansDenoisingColored. The filter strength `h` defaults to 0.6 times the
    sigma (when not given, the wavelet estimate the restore network is told: the same Haar
    median estimate as scikit-image's, without PyWavelets): the best factor on the benchmark's tuning images at
    sigma 15, 25 and 50 (the benchmark tunes it per sigma the same way)."""
    if h is None:
        sigma = estimate_sigma_array(image) * 255.0 if sigma is None else sigma
        h = max(1.0, 0.6 * sigma)
    out = cv2.fastNlMeansDenoisingColored(to_uint8(image), None, h, h, 7, 21)
    return out.astype(np.float32) / 255.0
