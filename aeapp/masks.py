"""Masks: from images and editor layers to bool HxW arrays, and the final composite.

A mask is a bool HxW array, True where a pixel is to be repaired.
"""

from __future__ import annotations

import cv2
import numpy as np

# A painted or stored mask pixel counts as "repair" when a channel exceeds this (out of 255):
# nonzero, with room for the noise JPEG compression leaves around black.
THRESHOLD = 16 / 255


def mask_from_array(arr: np.ndarray) -> np.ndarray:
    """Bool HxW mask from an HxW, HxWx1, HxWx3 or HxWx4 array (uint8, uint16, bool or float [0,1]).

    With an alpha channel that is not fully opaque, the alpha is the mask (a painted layer
    on a transparent background); otherwise any nonzero colour is.
    """
    a = np.asarray(arr)
    if a.dtype == bool:
        f = a.astype(np.float32)
    elif a.dtype == np.uint8:
        f = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        f = a.astype(np.float32) / 65535.0
    else:
        f = np.nan_to_num(a.astype(np.float32))
    if f.ndim == 2:
        return f > THRESHOLD
    if f.ndim != 3 or f.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"a mask must be HxW or HxWxC with C in 1..4, got shape {a.shape}")
    if f.shape[2] in (2, 4):
        alpha = f[..., -1]
        if (alpha < 1.0).any():
            return alpha > THRESHOLD
        f = f[..., :-1]
    return f.max(axis=2) > THRESHOLD


def read_mask(source, shape: tuple[int, int], max_pixels: int | None = None, name: str | None = None) -> np.ndarray:
    """A mask from any image source `image_io.read_image` takes (nonzero or painted alpha =
    repair), fitted to `shape`. Like every decoded input it obeys `max_pixels`: a mask that
    declares more pixels is refused before it is decoded."""
    from . import image_io

    loaded = image_io.read_image(source, max_pixels or image_io.DEFAULT_MAX_PIXELS, name)
    rgba = loaded.rgb if loaded.transparent is None else np.dstack([loaded.rgb, ~loaded.transparent])
    return fit_mask(mask_from_array(rgba), shape)


def mask_from_layers(layers: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Union of painted editor layers (RGBA arrays, painted where alpha > 0) as an HxW mask.

    Whatever colour the brush had, a painted pixel is a hole; erased pixels are transparent
    again and so are not. Layers of another size are resized to `shape` (nearest).
    """
    h, w = shape
    mask = np.zeros((h, w), bool)
    for layer in layers:
        if layer is None:
            continue
        a = np.asarray(layer)
        if a.ndim == 3 and a.shape[2] == 4:
            painted = a[..., 3] > (THRESHOLD * (255 if a.dtype == np.uint8 else 1))
        else:
            painted = mask_from_array(a)
        mask |= fit_mask(painted, (h, w))
    return mask


def fit_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return `mask` at `shape` = (h, w).

    A mask with the image's aspect ratio (within 2%) but another size, e.g. one drawn on a
    preview, is resized with nearest neighbour; any other size is an error.
    """
    h, w = shape
    mh, mw = mask.shape[:2]
    if (mh, mw) == (h, w):
        return mask
    if abs(mh / mw - h / w) > 0.02 * (h / w):
        raise ValueError(f"the mask is {mw}x{mh} but the image is {w}x{h}; they must have the same size")
    return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grow the mask by `pixels` (an elliptical kernel): covers the soft edge of a brush stroke."""
    if pixels <= 0:
        return mask.copy()
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), k) > 0


def composite(prediction: np.ndarray, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Prediction inside the mask, the input outside it, bit for bit (float32 HxWx3)."""
    out = np.array(image, dtype=np.float32)
    np.copyto(out, prediction, where=mask[..., None], casting="unsafe")
    return out


def overlay(image: np.ndarray, mask: np.ndarray, colour=(1.0, 0.2, 0.2), opacity: float = 0.5) -> np.ndarray:
    """The image with the mask tinted in `colour`, for showing which pixels were repaired."""
    tinted = image * (1 - opacity) + np.asarray(colour, np.float32) * opacity
    return composite(tinted.astype(np.float32), image, mask)
