"""The pixels at a hole's edge, re-solved by biharmonic interpolation after the network fills.

The fill network sees a hole through 4x4 pixel blocks (its refinement head, 7x7 pixels), and
next to a known pixel scikit-image's biharmonic inpainting is as good or better, while
further in the network wins by far (bench/hole_edge.py). So the ring of hole pixels that
touch a known pixel is solved again, biharmonically, with the known pixels on one side and
the network's fill on the other as its boundary: a sparse solve over the ring only, cheap
next to the network (checkpoints/README.md, experiment 25).

Images are float32 HxWx3 in [0,1]; masks bool HxW, True = hole.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.restoration import inpaint_biharmonic

# The biharmonic stencil reads 2 pixels around each unknown one.
_STENCIL_RADIUS = 2


def edge_ring(mask: np.ndarray) -> np.ndarray:
    """Hole pixels with a known pixel among their 8 neighbours."""
    known_near = cv2.dilate((~mask).astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return mask & (known_near > 0)


def resolve_edges(filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`filled` (holes already filled) with its edge ring re-solved; every other pixel kept."""
    ring = edge_ring(mask)
    if not ring.any() or ring.all():  # nothing to re-solve, or no boundary to solve from
        return filled
    rows, cols = np.nonzero(ring.any(axis=1))[0], np.nonzero(ring.any(axis=0))[0]
    r = _STENCIL_RADIUS
    box = np.s_[max(rows[0] - r, 0): rows[-1] + r + 1, max(cols[0] - r, 0): cols[-1] + r + 1]
    part, part_ring = filled[box], ring[box]
    solved = inpaint_biharmonic(np.where(part_ring[..., None], 0.0, part).astype(np.float32), part_ring, channel_axis=-1)
    out = filled.copy()
    out[box][part_ring] = np.clip(solved[part_ring], 0.0, 1.0)
    return out
