"""Whether running the fill network only on the window around the holes (the engine's
`_fill_window`) changes the fills, and what it saves.

    python -m bench.fill_window --data ../shared/data/CBSD68 --images 16

One hole per image, a box or a short thick stroke at a seeded place: PSNR inside it with
the window and with the whole image as the network's input. Then the warm median time of
one repair of a 40 x 40 blemish in a 12 MP image (4000 x 3000, the first photo tiled) both
ways. The baseline, run in the same process by widening the window to the whole image, is
what the engine did before windows: it still skips the tiles without holes.
"""

from __future__ import annotations

import argparse
import contextlib

import numpy as np

from aeapp import engine as engine_mod, metrics
from bench.benchmark import load_photos, median_seconds


@contextlib.contextmanager
def whole_image_window():
    original = engine_mod._fill_window
    engine_mod._fill_window = lambda mask: np.s_[:, :]
    try:
        yield
    finally:
        engine_mod._fill_window = original


def one_hole(h: int, w: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    bh, bw = rng.integers(20, 70, 2) if kind == "box" else (rng.integers(8, 14), rng.integers(60, 120))
    y, x = rng.integers(0, h - bh), rng.integers(0, w - bw)
    mask = np.zeros((h, w), bool)
    mask[y : y + bh, x : x + bw] = True
    return mask


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--size", type=int, nargs=2, default=[4000, 3000], metavar=("W", "H"), help="the blemished image")
    args = p.parse_args(argv)

    engine = engine_mod.get_engine(args.checkpoint)
    engine.warmup()
    images = load_photos(args.data, args.images)
    results = {}
    for kind in ("box", "stroke"):
        window, whole = [], []
        for i, clean in enumerate(images):
            mask = one_hole(*clean.shape[:2], kind, np.random.default_rng(i))
            window.append(metrics.psnr(clean, engine.repair(clean, mask), mask))
            with whole_image_window():
                whole.append(metrics.psnr(clean, engine.repair(clean, mask), mask))
        results[kind] = {"window": float(np.mean(window)), "whole": float(np.mean(whole))}
        print(f"one {kind}: PSNR in the hole {np.mean(window):.3f} dB with the window, {np.mean(whole):.3f} dB with the whole image", flush=True)

    w, h = args.size
    reps = -(-h // images[0].shape[0]), -(-w // images[0].shape[1])
    big = np.ascontiguousarray(np.tile(images[0], (*reps, 1))[:h, :w])
    blemish = np.zeros((h, w), bool)
    blemish[h // 2 : h // 2 + 40, w // 2 : w // 2 + 40] = True

    windowed = median_seconds(lambda: engine.repair(big, blemish), args.repeats)
    with whole_image_window():
        full = median_seconds(lambda: engine.repair(big, blemish), args.repeats)
    results["blemish_s"] = {"window": windowed, "whole": full}
    print(f"a 40 x 40 blemish in {w} x {h}: {windowed:.3f} s with the window, {full:.3f} s with the whole image ({full / windowed:.1f}x)")
    return results


if __name__ == "__main__":
    main()
