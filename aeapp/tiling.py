"""Large images in overlapping tiles, blended back; and the eight rotations and mirrorings of an
image, for self-ensembles. Pure numpy: no model, no device.

A network sees one tile at a time, so a 24 MP photo fits in memory; neighbouring tiles overlap
and are blended with linear ramps, so no seam shows where one tile's context ends.
"""

from __future__ import annotations

import math

import numpy as np


def layout(n: int, tile: int, overlap: int, stride: int = 1) -> tuple[list[int], int]:
    """(origins, size) of the tiles along one side of `n` pixels: the fewest tiles of at most
    `tile` pixels that overlap by at least `overlap`, shrunk (to a multiple of `stride`) so that
    the overlap stays close to `overlap` rather than wasting work."""
    if n <= tile:
        return [0], n
    count = math.ceil((n - overlap) / (tile - overlap))
    size = min(tile, math.ceil((n + (count - 1) * overlap) / count / stride) * stride)
    return [round(i * (n - size) / (count - 1)) for i in range(count)], size


def tiles(h: int, w: int, tile: int, overlap: int, stride: int = 1) -> list[tuple[slice, slice]]:
    """The (rows, columns) slices of the tiles that cover an h x w image, row by row."""
    (ys, th), (xs, tw) = layout(h, tile, overlap, stride), layout(w, tile, overlap, stride)
    return [(slice(y, y + th), slice(x, x + tw)) for y in ys for x in xs]


def ramp(n: int, overlap: int) -> np.ndarray:
    """Blending weights along a tile's side: rising over `overlap` pixels from each edge."""
    i = np.arange(n, dtype=np.float32)
    return np.minimum(1.0, np.minimum(i + 0.5, n - i - 0.5) / max(1, overlap))


class Blend:
    """Accumulates overlapping tiles' outputs (HxWx3) with ramped weights; `result` is their
    weighted mean."""

    def __init__(self, h: int, w: int, overlap: int):
        self.overlap = overlap
        self.sum = np.zeros((h, w, 3), np.float32)
        self.weight = np.zeros((h, w, 1), np.float32)

    def add(self, where: tuple[slice, slice], pred: np.ndarray) -> None:
        wt = np.outer(ramp(pred.shape[0], self.overlap), ramp(pred.shape[1], self.overlap))[..., None]
        self.sum[where] += pred * wt
        self.weight[where] += wt

    def result(self) -> np.ndarray:
        return self.sum / self.weight


# The eight rotations and mirrorings of an image, as (quarter turns, mirrored), best first for
# a self-ensemble: the 180-degree turn adds more to the identity than any other single view.
VIEWS = ((0, False), (2, False), (1, False), (3, False), (0, True), (2, True), (1, True), (3, True))


def view(array: np.ndarray, v: int) -> np.ndarray:
    """The image (HxW or HxWxC) in view `v` of VIEWS."""
    turns, mirrored = VIEWS[v]
    out = np.rot90(array, turns)
    return out[:, ::-1] if mirrored else out


def unview(array: np.ndarray, v: int) -> np.ndarray:
    """The inverse of `view`."""
    turns, mirrored = VIEWS[v]
    return np.rot90(array[:, ::-1] if mirrored else array, -turns)
