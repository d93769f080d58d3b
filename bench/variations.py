"""How far whole-image variations move from the image, for each choice of the restore
network's noisy skip levels (the card's variation figures; decides `train.ship
--restore-noisy-skip-levels`).

    python -m bench.variations --data ../shared/data/CBSD432 --images 8 --levels 2 --levels 1 2 [--save runs/variants]

For each level set and strength: the mean absolute difference (on 0..1) between the
variants of seeds 1 and 2, and the PSNR of a variant against the image (how much of the
image survives). With --save, writes the first image's variants as PNGs to look at.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aeapp import image_io, metrics
from aeapp.engine import get_engine
from bench.benchmark import config_replaced, load_photos


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--levels", type=int, nargs="*", action="append", help="a set of noisy skip levels (repeatable)")
    p.add_argument("--strengths", type=float, nargs="*", default=[1.0, 3.0, 5.0])
    p.add_argument("--save", type=Path, help="folder for the first image's variants")
    args = p.parse_args(argv)

    engine = get_engine(args.checkpoint)
    restore = engine.network("restore")
    images = load_photos(args.data, args.images)
    results = {}
    for levels in args.levels or [list(restore.config.noisy_skip_levels)]:
        with config_replaced(restore, noisy_skip_levels=tuple(levels)):
            for strength in args.strengths:
                spread, kept = [], []
                for i, img in enumerate(images):
                    a, b = engine.vary(img, strength=strength, count=2, seed=1)
                    spread.append(float(np.abs(a - b).mean()))
                    kept.append(metrics.psnr(img, a))
                    if args.save and i == 0:
                        name = f"levels{'-'.join(map(str, levels)) or 'none'}_s{strength:g}"
                        image_io.save_image(a, args.save / f"{name}_a.png")
                        image_io.save_image(b, args.save / f"{name}_b.png")
                key = f"levels {levels}, strength {strength:g}"
                results[key] = {"spread": float(np.mean(spread)), "psnr_to_image": float(np.mean(kept))}
                print(f"{key:<30} mean |variant 1 - variant 2| {np.mean(spread):.4f}   PSNR to the image {np.mean(kept):.2f} dB", flush=True)
    return results


if __name__ == "__main__":
    main()
