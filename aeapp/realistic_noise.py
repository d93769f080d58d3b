"""Noise as cameras make it, for training the restore network and for showing it.

White Gaussian noise on an sRGB image is the benchmark's damage, not a camera's. A sensor's
noise grows with the signal (photon shot noise plus read noise: Poisson-Gaussian), is
spread across neighbouring pixels when the Bayer mosaic is interpolated, changes size under
the tone curve, and is then JPEG-compressed. Two functions, kept apart on purpose:

- `realistic_degradation`: what training draws from (the BSRGAN / Real-ESRGAN recipe, on
  the sRGB image): signal-dependent or white, colour or grey, white or spatially
  correlated noise, and JPEG at a random quality, in random order.
- `camera_noise`: a camera simulated step by step (linear light, an RGGB mosaic, shot and
  read noise, OpenCV's demosaicing, the sRGB curve, JPEG), which training never calls, for
  judging the network on noise it was not trained on.

Both take an explicit generator and return float32 HxWx3 arrays in [0, 1] in 1/255 steps.
"""

from __future__ import annotations

import cv2
import numpy as np

# Camera presets: (shot noise gain, read noise sigma) in linear light, from a clean daylight
# photo (low) to a dim indoor phone shot (high); after demosaicing their noise is sigma 6 and 18
# (0..255) on a mid-grey sRGB image, and it is stronger in dark and colourful areas.
CAMERA_LEVELS = {"camera_low": (0.004, 0.004), "camera_high": (0.03, 0.01)}
JPEG_QUALITY = (40, 95)  # the range training draws from


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """The image after a JPEG round trip at `quality` (OpenCV's encoder, 4:2:0)."""
    bgr = np.round(np.clip(image, 0, 1)[..., ::-1] * 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


def _eight_bit(image: np.ndarray) -> np.ndarray:
    return (np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def _noise_field(shape, rng: np.random.Generator, grey: bool, correlation: float) -> np.ndarray:
    """Unit-variance Gaussian noise, the same on every channel when `grey`, blurred by a
    Gaussian of `correlation` pixels (0 = white) and rescaled to unit variance."""
    h, w, c = shape
    field = rng.standard_normal((h, w, 1 if grey else c)).astype(np.float32)
    if correlation > 0:
        field = cv2.GaussianBlur(field, (0, 0), correlation, borderType=cv2.BORDER_REFLECT).reshape(h, w, -1)
        field /= max(float(field.std()), 1e-6)
    return np.broadcast_to(field, shape)


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator, *, signal_share: float = 0.0,
              grey: bool = False, correlation: float = 0.0) -> np.ndarray:
    """Noise of `sigma` (0..255 scale) at mid-grey; `signal_share` of its variance there grows
    in proportion to the pixel's value (shot noise), the rest is constant (read noise)."""
    s = sigma / 255.0
    variance = s * s * ((1.0 - signal_share) + signal_share * np.clip(image, 0.0, 1.0) / 0.5)
    return _eight_bit(image + np.sqrt(variance) * _noise_field(image.shape, rng, grey, correlation))


def realistic_degradation(clean: np.ndarray, rng: np.random.Generator, max_sigma: float = 55.0) -> np.ndarray:
    """One random camera-like degradation of a float32 HxWx3 [0,1] image: noise (sigma up to
    `max_sigma`; signal-dependent in half the draws, grey in a quarter, spatially correlated
    in half) and, in three draws of four, JPEG; the JPEG comes first in a fifth of those (a
    compressed photo scanned or re-shot)."""
    def noise(x):
        return add_noise(x, rng.uniform(1.0, max_sigma), rng,
                         signal_share=rng.uniform(0.5, 1.0) if rng.random() < 0.5 else 0.0,
                         grey=rng.random() < 0.25,
                         correlation=rng.uniform(0.4, 1.5) if rng.random() < 0.5 else 0.0)

    def compress(x):
        return jpeg(x, int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))

    steps = [noise, compress] if rng.random() < 0.75 else [noise]
    if len(steps) == 2 and rng.random() < 0.2:
        steps.reverse()
    x = clean.astype(np.float32)
    for step in steps:
        x = step(x)
    return x


def camera_noise(clean: np.ndarray, rng: np.random.Generator, level: str = "camera_high",
                 jpeg_quality: int | None = 90) -> np.ndarray:
    """`clean` as a camera at `level` (a CAMERA_LEVELS name) would have recorded it: shot and
    read noise on an RGGB mosaic in linear light, demosaiced, tone-mapped, JPEG-compressed at
    `jpeg_quality` (None: left as 8-bit PNG would hold it)."""
    if level not in CAMERA_LEVELS:
        raise ValueError(f"unknown camera level {level!r}; choose one of {', '.join(CAMERA_LEVELS)}")
    shot, read = CAMERA_LEVELS[level]
    h, w = clean.shape[:2]
    if h < 2 or w < 2:
        raise ValueError(f"camera noise needs at least 2x2 pixels, got {w}x{h}")
    linear = srgb_to_linear(np.clip(clean.astype(np.float32), 0.0, 1.0))
    raw = np.empty((h, w), np.float32)  # RGGB
    raw[0::2, 0::2] = linear[0::2, 0::2, 0]
    raw[0::2, 1::2] = linear[0::2, 1::2, 1]
    raw[1::2, 0::2] = linear[1::2, 0::2, 1]
    raw[1::2, 1::2] = linear[1::2, 1::2, 2]
    raw = raw + np.sqrt(shot * raw + read * read) * rng.standard_normal(raw.shape).astype(np.float32)
    raw16 = np.round(np.clip(raw, 0.0, 1.0) * 65535).astype(np.uint16)
    # OpenCV names a Bayer pattern by the second row's second and third pixels: RGGB is "BG".
    rgb = cv2.demosaicing(raw16, cv2.COLOR_BayerBG2RGB).astype(np.float32) / 65535.0
    out = _eight_bit(linear_to_srgb(rgb))
    return jpeg(out, jpeg_quality) if jpeg_quality else out
