"""Procedural training images: what BSDS500's landscapes, animals and people rarely hold and
photographs of cities and documents are full of. Drawn from a seeded generator, so they need
no licence and runs stay reproducible.

- dead leaves: occluding shapes of every size (a scale-invariant model of natural images'
  edges and flat regions, as in Lee, Mumford and Huang 2001);
- straight structure: grids of windows, bricks and bars under a random perspective, as
  buildings show them;
- periodic patterns: stripes, checks and dots of periods from 2 to 24 pixels at any angle,
  which a denoiser that smooths them away loses;
- text: letters and digits of several sizes, fonts and weights.

Each image is drawn at twice its side and area-downsampled, so its edges are antialiased as
a camera's are, then given smooth shading and sometimes a slight blur.
"""

from __future__ import annotations

import string

import cv2
import numpy as np

KINDS = ("dead_leaves", "structure", "periodic", "text")
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
         cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX_SMALL)


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """A colour as photographs have them: mostly muted, sometimes saturated, 0..255."""
    grey = rng.uniform(10, 245)
    spread = rng.choice([10.0, 40.0, 90.0], p=[0.5, 0.35, 0.15])
    return tuple(float(np.clip(grey + rng.normal(0, spread), 0, 255)) for _ in range(3))


def _dead_leaves(n: int, rng: np.random.Generator) -> np.ndarray:
    img = np.full((n, n, 3), _colour(rng), np.float32)
    for _ in range(int(rng.integers(1500, 3000))):  # enough to cover the image several times
        # Radii with density ~ 1/r^3 between 3 px and a third of the side: every scale alike.
        r_min, r_max = 3.0, n / 3
        r = (r_min ** -2 - rng.random() * (r_min ** -2 - r_max ** -2)) ** -0.5
        cx, cy = rng.uniform(-r, n + r, 2)
        colour = _colour(rng)
        shape = rng.random()
        if shape < 0.5:
            cv2.circle(img, (int(cx), int(cy)), max(1, int(r)), colour, -1, cv2.LINE_8)
        elif shape < 0.8:
            w, h = r * rng.uniform(0.5, 2.0, 2)
            box = cv2.boxPoints(((cx, cy), (w * 2, h * 2), rng.uniform(0, 180))).astype(np.int32)
            cv2.fillPoly(img, [box], colour, cv2.LINE_8)
        else:
            axes = (max(1, int(r)), max(1, int(r * rng.uniform(0.2, 1.0))))
            cv2.ellipse(img, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_8)
    return img


def _structure(n: int, rng: np.random.Generator) -> np.ndarray:
    """A facade: a wall, grids of windows (or bars) with frames, under perspective."""
    m = n
    img = np.full((m, m, 3), _colour(rng), np.float32)
    for _ in range(int(rng.integers(1, 4))):  # a few facades, each its own grid
        x0, y0 = rng.integers(-m // 4, m // 2, 2)
        x1, y1 = x0 + rng.integers(m // 3, m + m // 2), y0 + rng.integers(m // 3, m + m // 2)
        cv2.rectangle(img, (int(x0), int(y0)), (int(x1), int(y1)), _colour(rng), -1)
        pitch_x, pitch_y = rng.integers(8, 60, 2)
        fill_x, fill_y = rng.uniform(0.3, 0.9, 2)
        window, frame = _colour(rng), _colour(rng)
        bars = rng.random() < 0.25
        for y in range(int(y0), int(y1), int(pitch_y)):
            for x in range(int(x0), int(x1), int(pitch_x)):
                w, h = (pitch_x if bars else pitch_x * fill_x), pitch_y * fill_y
                cv2.rectangle(img, (x, y), (int(x + w), int(y + h)), frame, -1)
                inset = max(1, int(min(w, h) * 0.12))
                cv2.rectangle(img, (x + inset, y + inset), (int(x + w) - inset, int(y + h) - inset), window, -1)
        for _ in range(int(rng.integers(0, 6))):  # poles, cables, ledges
            p, q = rng.integers(0, m, 2), rng.integers(0, m, 2)
            cv2.line(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), _colour(rng), int(rng.integers(1, 6)))
    corners = np.float32([[0, 0], [m, 0], [m, m], [0, m]])
    warped = corners + rng.normal(0, m * 0.12, corners.shape).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(corners, warped)
    return cv2.warpPerspective(img, matrix, (m, m), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _periodic(n: int, rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    period = rng.uniform(4.0, 48.0)  # 2 to 24 pixels once averaged down
    kind = rng.integers(3)
    if kind == 0:  # stripes, sharp or soft
        wave = np.sin(2 * np.pi * u / period)
        pattern = np.clip(wave * rng.uniform(1, 8), -1, 1)
    elif kind == 1:  # checks
        pattern = np.sign(np.sin(2 * np.pi * u / period) * np.sin(2 * np.pi * v / (period * rng.uniform(0.5, 2))))
    else:  # dots
        pattern = np.cos(2 * np.pi * u / period) + np.cos(2 * np.pi * v / period) > rng.uniform(-0.5, 1.0)
        pattern = pattern.astype(np.float32) * 2 - 1
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    img = (a + (b - a) * (0.5 + 0.5 * pattern[..., None])).astype(np.float32)
    if rng.random() < 0.5:  # a patch of another pattern over it, as a screen or a fence would be
        other = _periodic(n, rng)
        mask = np.zeros((n, n), np.float32)
        cx, cy = rng.integers(0, n, 2)
        cv2.circle(mask, (int(cx), int(cy)), int(rng.integers(n // 6, n // 2)), 1.0, -1)
        img = img * (1 - mask[..., None]) + other * mask[..., None]
    return img


def _text(n: int, rng: np.random.Generator) -> np.ndarray:
    m = n
    img = np.full((m, m, 3), _colour(rng), np.uint8)  # OpenCV draws text on 8-bit images only
    y = int(rng.integers(0, 20))
    alphabet = string.ascii_letters + string.digits + "  .,:-"
    while y < m:
        scale = rng.uniform(0.4, 3.0)
        font = FONTS[int(rng.integers(len(FONTS)))]
        thickness = int(rng.integers(1, 4))
        line = "".join(rng.choice(list(alphabet), int(rng.integers(5, 40))))
        (_, h), _ = cv2.getTextSize(line, font, scale, thickness)
        y += h + int(rng.integers(4, 20))
        cv2.putText(img, line, (int(rng.integers(-20, m // 3)), y), font, scale, _colour(rng), thickness, cv2.LINE_AA)
    return img.astype(np.float32)


DRAW = {"dead_leaves": _dead_leaves, "structure": _structure, "periodic": _periodic, "text": _text}


def synthetic_image(side: int, rng: np.random.Generator, kind: str | None = None) -> np.ndarray:
    """A side x side float32 RGB image in [0, 1] of a random (or the given) kind."""
    kind = kind or KINDS[int(rng.integers(len(KINDS)))]
    big = DRAW[kind](2 * side, rng)  # drawn at twice the side, then averaged down: antialiased edges
    img = cv2.resize(big, (side, side), interpolation=cv2.INTER_AREA)
    # Smooth shading across the image (light falling off), and sometimes a lens's softness.
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    gx, gy = rng.normal(0, 0.25, 2)
    shade = np.clip(1 + gx * (x - 0.5) + gy * (y - 0.5), 0.5, 1.5)
    img = img * shade[..., None]
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.8))
    return np.clip(img / 255.0, 0.0, 1.0).astype(np.float32)
