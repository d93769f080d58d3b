"""What blind restoration does to clean and lightly noisy photos, the common case the
benchmark's sigmas (15 to 50) leave out: a denoiser must not blur a photo that has little
noise to remove.

    python -m bench.light_noise --data ../shared/data/CBSD432 --images 8 [--checkpoint FILE]

Prints, per sigma, the PSNR of the input and of aeapp's output (no mask) against the clean
image; noise is Gaussian, clipped and rounded to 8 bits, seeded per image.
"""

from __future__ import annotations

import argparse

import numpy as np

from aeapp import damage, metrics
from aeapp.engine import get_engine
from bench.benchmark import load_photos


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--sigmas", type=float, nargs="*", default=[0.0, 5.0, 10.0])
    p.add_argument("--checkpoint", default=None)
    args = p.parse_args(argv)

    engine = get_engine(args.checkpoint)
    images = load_photos(args.data, args.images)
    results = {}
    for sigma in args.sigmas:
        before, after = [], []
        for i, clean in enumerate(images):
            noisy = damage.add_gaussian_noise(clean, sigma, np.random.default_rng(i)) if sigma else clean
            before.append(metrics.psnr(clean, noisy) if sigma else float("inf"))
            after.append(metrics.psnr(clean, engine.repair(noisy)))
        results[sigma] = {"input": float(np.mean(before)), "output": float(np.mean(after))}
        print(f"sigma {sigma:g}: input {np.mean(before):.2f} dB -> aeapp {np.mean(after):.2f} dB", flush=True)
    return results


if __name__ == "__main__":
    main()
