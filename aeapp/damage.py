"""Synthetic damage: hole masks and noise, as pure functions of a seeded generator.

Every function takes an explicit `np.random.Generator` and returns new arrays; nothing here
touches global random state or files. Training, the CLI's `damage` command, the app's
"damage it for me" button, the tests and the benchmark all draw damage from here, so a seed
means the same damage everywhere.

Masks are bool HxW arrays, True where a pixel is missing. Sizes are in pixels of an image
whose longer side is 512; `scale` stretches them (by default, the image's own longer side
over 512), so a crop of a larger photo can be damaged as the whole photo would be.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .realistic_noise import CAMERA_LEVELS, camera_noise

# The hole kinds, in the order training's --mask-weights, validation and the benchmark use.
MASK_KINDS = ("thin", "thick", "boxes", "scratches")
# What the app, the CLI and the API offer: hole kinds, Gaussian noise, a camera's noise.
KINDS = MASK_KINDS + ("noise", "camera")
# The noise levels (sigma on the 0..255 scale) that validation and the benchmark score.
NOISE_LEVELS = {"noise15": 15.0, "noise25": 25.0, "noise50": 50.0}


def _scale(h: int, w: int, scale: float | None) -> float:
    return max(h, w) / 512.0 if scale is None else float(scale)


def _check_size(h: int, w: int) -> None:
    if h < 1 or w < 1:
        raise ValueError(f"cannot make a mask for a {h}x{w} image")


def strokes_mask(
    h: int,
    w: int,
    rng: np.random.Generator,
    *,
    width: tuple[float, float],
    strokes: tuple[int, int],
    vertices: tuple[int, int],
    length: tuple[float, float],
    scale: float | None = None,
    max_fraction: float = 0.5,
) -> np.ndarray:
    """Free-form brush strokes (LaMa's irregular masks): polylines with round joints.

    width, length: ranges in pixels at scale 1; strokes, vertices: inclusive count ranges.
    Stops adding strokes once `max_fraction` of the image is covered.
    """
    _check_size(h, w)
    s = _scale(h, w, scale)
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(strokes[0], strokes[1] + 1))):
        thickness = max(1, int(round(rng.uniform(*width) * s)))
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, 2 * math.pi)
        for _ in range(int(rng.integers(vertices[0], vertices[1] + 1))):
            angle += rng.uniform(-math.pi / 2, math.pi / 2)
            step = rng.uniform(*length) * s
            nx = float(np.clip(x + step * math.cos(angle), 0, w - 1))
            ny = float(np.clip(y + step * math.sin(angle), 0, h - 1))
            cv2.line(mask, (int(x), int(y)), (int(nx), int(ny)), 1, thickness, cv2.LINE_AA if thickness < 3 else cv2.LINE_8)
            cv2.circle(mask, (int(nx), int(ny)), thickness // 2, 1, -1)
            x, y = nx, ny
        if mask.mean() > max_fraction:
            break
    return mask > 0


def thin_strokes(h: int, w: int, rng: np.random.Generator, scale: float | None = None) -> np.ndarray:
    """Thin brush strokes, 2-8 px wide: fine scribbles, text, wires."""
    return strokes_mask(h, w, rng, width=(2, 8), strokes=(4, 10), vertices=(3, 8), length=(15, 60), scale=scale)


def thick_strokes(h: int, w: int, rng: np.random.Generator, scale: float | None = None) -> np.ndarray:
    """Thick brush strokes, 14-36 px wide: the blobs a user paints over an object."""
    return strokes_mask(h, w, rng, width=(14, 36), strokes=(2, 5), vertices=(2, 6), length=(20, 80), scale=scale)


def boxes(h: int, w: int, rng: np.random.Generator, scale: float | None = None, max_fraction: float = 0.35) -> np.ndarray:
    """One to three axis-aligned boxes, each side 30-130 px at scale 1 (at most 60% of the
    image's side), added until `max_fraction` of the image is covered."""
    _check_size(h, w)
    s = _scale(h, w, scale)
    mask = np.zeros((h, w), bool)
    for _ in range(int(rng.integers(1, 4))):
        bh = int(np.clip(rng.uniform(30, 130) * s, 1, max(1, 0.6 * h)))
        bw = int(np.clip(rng.uniform(30, 130) * s, 1, max(1, 0.6 * w)))
        y = int(rng.integers(0, h - bh + 1))
        x = int(rng.integers(0, w - bw + 1))
        trial = mask.copy()
        trial[y : y + bh, x : x + bw] = True
        if mask.any() and trial.mean() > max_fraction:
            break
        mask = trial
    return mask


def scratches(h: int, w: int, rng: np.random.Generator, scale: float | None = None) -> np.ndarray:
    """Long, thin, slightly curved scratches (1-4 px) that cross much of the image, as on old prints."""
    _check_size(h, w)
    s = _scale(h, w, scale)
    mask = np.zeros((h, w), np.uint8)
    diag = math.hypot(h, w)
    for _ in range(int(rng.integers(3, 9))):
        thickness = max(1, int(round(rng.uniform(1, 4) * s)))
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        angle = rng.uniform(0, math.pi)
        half = rng.uniform(0.3, 0.7) * diag / 2
        bend = rng.uniform(-0.08, 0.08) * half
        t = np.linspace(-1.0, 1.0, 24)
        px = cx + t * half * math.cos(angle) - (1 - t**2) * bend * math.sin(angle)
        py = cy + t * half * math.sin(angle) + (1 - t**2) * bend * math.cos(angle)
        pts = np.stack([px, py], axis=1).round().astype(np.int32)
        cv2.polylines(mask, [pts], False, 1, thickness, cv2.LINE_8)
    return mask > 0


MASK_FUNCTIONS = {"thin": thin_strokes, "thick": thick_strokes, "boxes": boxes, "scratches": scratches}


def make_mask(kind: str, h: int, w: int, rng: np.random.Generator, scale: float | None = None) -> np.ndarray:
    """A bool HxW hole mask of the given kind (one of MASK_KINDS)."""
    if kind not in MASK_FUNCTIONS:
        raise ValueError(f"unknown mask kind {kind!r}; choose one of {', '.join(MASK_KINDS)}")
    return MASK_FUNCTIONS[kind](h, w, rng, scale=scale)


def mixed_mask(
    h: int,
    w: int,
    rng: np.random.Generator,
    probs: dict[str, float] | None = None,
    scale: float | None = None,
) -> np.ndarray:
    """A mask of a kind drawn by probability (default: equal odds), sometimes two kinds combined."""
    probs = probs or {k: 1.0 for k in MASK_KINDS}
    kinds = list(probs)
    p = np.array([probs[k] for k in kinds], float)
    p /= p.sum()
    mask = make_mask(kinds[int(rng.choice(len(kinds), p=p))], h, w, rng, scale)
    if rng.random() < 0.2:
        mask |= make_mask(kinds[int(rng.choice(len(kinds), p=p))], h, w, rng, scale)
    return mask


def add_gaussian_noise(
    image: np.ndarray, sigma: float, rng: np.random.Generator, *, clip: bool = True, quantize: bool = True
) -> np.ndarray:
    """Add white Gaussian noise of `sigma` (on the 0..255 scale) to a float32 HxWx3 [0,1] image.

    With `clip` and `quantize` (the defaults) the result is what a user's 8-bit PNG of a noisy
    photo holds: clipped to [0,1] and rounded to 1/255 steps.
    """
    if sigma < 0:
        raise ValueError(f"noise sigma must be >= 0, got {sigma}")
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma / 255.0, size=image.shape).astype(np.float32)
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    if quantize:
        noisy = np.round(noisy * 255.0) / 255.0
    return noisy.astype(np.float32)


def apply_damage(
    image: np.ndarray,
    kind: str,
    rng: np.random.Generator,
    *,
    sigma: float = 25.0,
    scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Damage a float32 HxWx3 [0,1] image; returns (damaged image, bool HxW mask).

    For mask kinds the holes are painted black in the damaged image (what a user sees) and
    the mask marks them; for "noise" (Gaussian, `sigma`) and "camera" (a phone's noise in
    dim light, `realistic_noise.camera_noise`) the mask is empty and the whole image is noisy.
    """
    h, w = image.shape[:2]
    if kind == "noise":
        return add_gaussian_noise(image, sigma, rng), np.zeros((h, w), bool)
    if kind == "camera":
        return camera_noise(image, rng, "camera_high"), np.zeros((h, w), bool)
    mask = make_mask(kind, h, w, rng, scale)
    damaged = image.astype(np.float32).copy()
    damaged[mask] = 0.0
    return damaged, mask


def describe(kind: str, sigma: float, mask: np.ndarray) -> str:
    """What `apply_damage` did, in words for a message."""
    if kind == "noise":
        return f"Gaussian noise, sigma {sigma:g}"
    if kind == "camera":
        return "a simulated camera's noise (dim light, JPEG)"
    return f"{kind} holes ({mask.mean():.1%} of the image)"


# Every task that validation and the benchmark score: the hole kinds, the Gaussian noise
# levels, then a simulated camera's noise (aeapp/realistic_noise.py), which training never draws.
CAMERA_TASKS = tuple(CAMERA_LEVELS)
NOISE_TASKS = tuple(NOISE_LEVELS) + CAMERA_TASKS  # the scored tasks of the restore network
SCORED_TASKS = MASK_KINDS + NOISE_TASKS


def scored_damage(clean: np.ndarray, task: str, seed: int, image_index: int) -> tuple[np.ndarray, np.ndarray]:
    """The damage a scored task (one of SCORED_TASKS) gives the `image_index`-th image of a
    set, seeded by (seed, image, task): the same on every run, different for every image."""
    if task not in SCORED_TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(SCORED_TASKS)}")
    rng = np.random.default_rng([seed, image_index, SCORED_TASKS.index(task)])
    if task in NOISE_LEVELS:
        return apply_damage(clean, "noise", rng, sigma=NOISE_LEVELS[task])
    if task in CAMERA_TASKS:
        return camera_noise(clean, rng, task), np.zeros(clean.shape[:2], bool)
    return apply_damage(clean, task, rng)
