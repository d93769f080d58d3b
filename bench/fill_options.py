"""How the fill network's inference options change its holes: first-pass prefill, passes,
and how much latent noise changes a fill (the card's prefill and diversity figures).

    python -m bench.fill_options --data ../shared/data/CBSD432 --images 16 --seed 1

Decide on images that are not the benchmark's (CBSD432 is where the peers are tuned too).
Prints PSNR inside the holes per damage kind for each prefill and 1 or 2 passes, the peers
on the same holes, and, at a few latent-noise strengths, how much the fills of two seeds
differ inside the holes, how good one seed's fill is, and how good the best of several
seeds' is (the measure of diverse inpainting: alternatives that include a closer fill are
plausible ones, noise that only degrades the fill lowers both).
"""

from __future__ import annotations

import argparse

import numpy as np

from aeapp import damage, metrics, peers
from aeapp.engine import get_engine
from bench.benchmark import config_replaced, load_photos

KINDS = ("thin", "thick", "boxes", "scratches")


def damaged_samples(folder, count: int, seed: int) -> list[tuple]:
    """(kind, clean, damaged, mask) for each of the first `count` images of `folder` and each
    hole kind, seeded by (seed, image, kind): the holes every fill study here is scored on."""
    samples = []
    for i, clean in enumerate(load_photos(folder, count)):
        for k, kind in enumerate(KINDS):
            damaged, mask = damage.apply_damage(clean, kind, np.random.default_rng([seed, i, k]))
            samples.append((kind, clean, damaged, mask))
    return samples


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--prefills", nargs="*", default=["telea", "telea_ns"])
    p.add_argument("--strengths", type=float, nargs="*", default=[1.0, 1.5, 3.0])
    p.add_argument("--draws", type=int, default=4, help="seeds per hole for the diversity figures (at least 2)")
    args = p.parse_args(argv)
    if args.draws < 2:
        p.error("--draws must be at least 2: diversity compares seeds")
    engine = get_engine(args.checkpoint)
    fill = engine.network("fill")
    samples = damaged_samples(args.data, args.images, args.seed)

    def report(name, fn) -> dict:
        scores = {kind: [] for kind in KINDS}
        for kind, clean, damaged, mask in samples:
            scores[kind].append(metrics.psnr(clean, fn(damaged, mask), mask))
        row = {kind: float(np.mean(v)) for kind, v in scores.items()}
        print(f"{name:<28}" + "  ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
        return row

    results = {"peers": {}, "prefills": {}, "diversity": {}}
    results["peers"]["telea"] = report("peer: OpenCV Telea", peers.inpaint_telea)
    results["peers"]["ns"] = report("peer: OpenCV Navier-Stokes", peers.inpaint_ns)
    for prefill in args.prefills:
        with config_replaced(fill, prefill=prefill):
            for steps in (1, 2):
                results["prefills"][f"{prefill}, {steps} pass(es)"] = report(
                    f"{prefill}, {steps} pass(es)", lambda x, m, s=steps: engine.repair(x, m, steps=s))
    holes = [(clean, x, m) for kind, clean, x, m in samples if kind in ("thick", "boxes")]
    plain = [metrics.psnr(clean, engine.repair(x, m), m) for clean, x, m in holes]
    print(f"strength 0: PSNR {np.mean(plain):.2f} dB in thick-stroke and box holes")
    results["plain_psnr"] = float(np.mean(plain))
    for strength in args.strengths:
        spread, mean_psnr, best_psnr = [], [], []
        for clean, x, m in holes:
            fills = [engine.repair(x, m, strength=strength, seed=s) for s in range(1, args.draws + 1)]
            scores = [metrics.psnr(clean, f, m) for f in fills]
            spread.append(np.abs(fills[0] - fills[1])[m].mean())
            mean_psnr.append(np.mean(scores))
            best_psnr.append(max(scores))
        results["diversity"][strength] = {"mean_abs_diff": float(np.mean(spread)), "mean_psnr": float(np.mean(mean_psnr)),
                                          f"best_of_{args.draws}_psnr": float(np.mean(best_psnr))}
        print(f"strength {strength:g}: mean |fill(seed 1) - fill(seed 2)| {np.mean(spread):.4f}; "
              f"PSNR of a seed's fill {np.mean(mean_psnr):.2f} dB, of the best of {args.draws} seeds {np.mean(best_psnr):.2f} dB "
              "(thick-stroke and box holes)", flush=True)
    return results


if __name__ == "__main__":
    main()
