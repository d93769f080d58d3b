"""Where in a hole the fill wins or loses: PSNR by distance from the nearest known pixel,
for the fill network, scikit-image's biharmonic inpainting and the mean of the two (the
evidence behind the fill network's full-resolution refinement head, ModelConfig.refine_channels).

    python -m bench.hole_edge --data ../shared/data/CBSD432 --images 16 --seed 1 [--checkpoint FILE]

The damage is bench/fill_options.py's (the same images and seeds). The first ring is the
hole pixels next to a known one (distance at most 1.5 pixels); each ring's PSNR is over its
pixels pooled across the images. Prints, per damage kind and ring, the share of the holes'
pixels and the three PSNRs.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from aeapp import metrics
from aeapp.engine import get_engine
from bench.benchmark import inpaint_biharmonic
from bench.fill_options import KINDS, damaged_samples

RINGS = ((0.0, 1.5), (1.5, 2.5), (2.5, 4.0), (4.0, np.inf))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint", default=None)
    args = p.parse_args(argv)
    engine = get_engine(args.checkpoint)
    pooled = {(kind, r): {"clean": [], "aeapp": [], "biharmonic": [], "mean": []} for kind in KINDS for r in range(len(RINGS))}
    for kind, clean, damaged, mask in damaged_samples(args.data, args.images, args.seed):
        fills = {"aeapp": engine.repair(damaged, mask), "biharmonic": inpaint_biharmonic(damaged, mask)}
        fills["mean"] = 0.5 * (fills["aeapp"] + fills["biharmonic"])
        distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
        for r, (lo, hi) in enumerate(RINGS):
            ring = mask & (distance > lo) & (distance <= hi)
            pooled[kind, r]["clean"].append(clean[ring])
            for name, fill in fills.items():
                pooled[kind, r][name].append(fill[ring])
    results = {}
    for kind in KINDS:
        total = sum(sum(len(a) for a in pooled[kind, r]["clean"]) for r in range(len(RINGS)))
        for r, (lo, hi) in enumerate(RINGS):
            clean = np.concatenate(pooled[kind, r]["clean"])
            if not len(clean):
                continue
            row = {"share": len(clean) / total}
            row.update({name: metrics.psnr(clean, np.concatenate(pooled[kind, r][name])) for name in ("aeapp", "biharmonic", "mean")})
            results[f"{kind}, distance {lo:g} to {hi:g}"] = row
            print(f"{kind:<10} distance {lo:>3g} to {hi:<4g} {row['share']:6.1%} of the hole: aeapp {row['aeapp']:.2f}  "
                  f"biharmonic {row['biharmonic']:.2f}  their mean {row['mean']:.2f} dB", flush=True)
    return results


if __name__ == "__main__":
    main()
