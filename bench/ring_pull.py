"""How hard the edge ring's biharmonic re-solve should hold to the fill network's own values
(`aeapp.edge_solve.RING_PULL`; the evidence of checkpoints/README.md, experiment 37).

    python -m bench.ring_pull --data ../shared/data/CBSD432 --images 64 [--offset 64] [--pulls 0 1 2 3]

The damage is bench/fill_options.py's (image i of the folder, each hole kind, seeded by seed,
i and kind); `--offset` skips the first images, so a value chosen on one set of images can be
confirmed on the next. The network fills each hole once (without the edge solve); the ring is
then re-solved with every pull in turn. Prints, per hole kind, the mean PSNR inside the holes
for each pull and its paired difference from the first pull with the standard error.
"""

from __future__ import annotations

import argparse

import numpy as np

from aeapp import checkpoint, metrics
from aeapp.edge_solve import resolve_edges
from aeapp.engine import Engine
from bench.compare import paired
from bench.fill_options import KINDS, damaged_samples


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--offset", type=int, default=0, help="skip the folder's first N images")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pulls", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0])
    p.add_argument("--checkpoint", default=checkpoint.DEFAULT_CHECKPOINT)
    args = p.parse_args(argv)
    network_alone = Engine.from_checkpoint(args.checkpoint, device="cpu", edge_solve=False)
    samples = damaged_samples(args.data, args.offset + args.images, args.seed)[args.offset * len(KINDS) :]
    scores = {(kind, pull): [] for kind in KINDS for pull in args.pulls}
    for kind, clean, damaged, mask in samples:
        filled = network_alone.repair(damaged, mask)
        for pull in args.pulls:
            scores[kind, pull].append(metrics.psnr(clean, resolve_edges(filled, mask, pull), mask))
    results = {}
    for kind in KINDS:
        base = scores[kind, args.pulls[0]]
        for pull in args.pulls:
            diff, se = paired(base, scores[kind, pull])
            results[f"{kind}, pull {pull:g}"] = {"psnr": float(np.mean(scores[kind, pull])), "diff": diff, "se": se}
            print(f"{kind:<10} pull {pull:<4g} {np.mean(scores[kind, pull]):.3f} dB  "
                  f"difference {diff:+.3f} (se {se:.3f})", flush=True)
    return results


if __name__ == "__main__":
    main()
