"""The pixels at a hole's edge, re-solved by biharmonic interpolation after the network fills.

The fill network sees a hole through 4x4 pixel blocks (its refinement head, 7x7 pixels), and
next to a known pixel a biharmonic interpolation (scikit-image's inpainting, the benchmark's peer) is
as good or better, while further in the network wins by far (bench/hole_edge.py). So the
ring of hole pixels that touch a known pixel is solved again, biharmonically, with the known
pixels on one side and the network's fill on the other as its boundary: a sparse system
over the ring's pixels only, cheap next to the network (checkpoints/README.md, experiment 25).

Images are float32 HxWx3 in [0,1]; masks bool HxW, True = hole.
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sparse
from scipy.sparse.linalg import spsolve

# The discrete biharmonic operator (the 5-point Laplacian squared): 13 points, offset -> weight.
_STENCIL = (
    ((0, 0), 20.0),
    *(((dy, dx), -8.0) for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))),
    *(((dy, dx), 2.0) for dy, dx in ((1, 1), (1, -1), (-1, 1), (-1, -1))),
    *(((dy, dx), 1.0) for dy, dx in ((0, 2), (0, -2), (2, 0), (-2, 0))),
)


def edge_ring(mask: np.ndarray) -> np.ndarray:
    """Hole pixels with a known pixel among their 8 neighbours."""
    known_near = cv2.dilate((~mask).astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return mask & (known_near > 0)


def _reflect(i: np.ndarray, n: int) -> np.ndarray:
    """Indices past an edge mirrored back into 0..n-1 (the stencil reaches 2 pixels out)."""
    i = np.abs(i)
    return np.clip(np.where(i >= n, 2 * (n - 1) - i, i), 0, n - 1)


def solve_biharmonic(values: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """`values` with its `unknown` pixels replaced by the solution of the discrete biharmonic
    equation whose boundary is every other pixel (mirrored at the image's edges). Memory and
    time grow with the unknown pixels, not with the image."""
    h, w = unknown.shape
    ys, xs = np.nonzero(unknown)
    order = ys * w + xs  # row-major, so sorted: neighbours are found by binary search
    rows, cols, weights = [], [], []
    rhs = np.zeros((len(ys), values.shape[2]))
    for (dy, dx), weight in _STENCIL:
        qy, qx = _reflect(ys + dy, h), _reflect(xs + dx, w)
        q = qy * w + qx
        pos = np.minimum(np.searchsorted(order, q), len(order) - 1)
        inside = order[pos] == q
        rows.append(np.nonzero(inside)[0])
        cols.append(pos[inside])
        weights.append(np.full(int(inside.sum()), weight))
        rhs[~inside] -= weight * values[qy[~inside], qx[~inside]]
    n = len(ys)
    system = sparse.csc_matrix((np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    out = values.copy()
    out[ys, xs] = spsolve(system, rhs).reshape(n, -1)
    return out


def resolve_edges(filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`filled` (holes already filled) with its edge ring re-solved; every other pixel kept."""
    ring = edge_ring(mask)
    if not ring.any() or ring.all():  # nothing to re-solve, or no boundary to solve from
        return filled
    out = solve_biharmonic(filled, ring)
    if not np.isfinite(out[ring]).all():  # a singular system: keep the network's fill
        return filled
    out[ring] = np.clip(out[ring], 0.0, 1.0)
    return out
