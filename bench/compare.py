"""Two checkpoints scored on the same samples, paired: how a candidate is judged against the
shipped file before it ships (the shipping rule).

    python -m bench.compare checkpoints/aeapp-repair.safetensors runs/candidate.safetensors \\
        --data ../shared/data/CBSD432 --images 64

Holes are `bench.common.hole_samples` (each image with each hole kind, seeded by image and
kind), noise is the benchmark's (sigma 15, 25 and 50, clipped and rounded to 8 bits); decide
on a folder that is not the benchmark's. Prints, per hole kind and sigma, both files' mean
PSNR (inside the holes for holes) and the second's mean difference from the first with the
standard error of the paired differences; then the rule for shipping a new fill:
boxes gain, the four kinds' mean gains, and no kind loses by more than two standard errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aeapp import metrics
from aeapp.damage import MASK_KINDS as KINDS, NOISE_LEVELS
from aeapp.engine import Engine
from bench.common import damaged_inputs, hole_samples


def samples(data, images: int, seed: int) -> tuple[list, dict]:
    """The holes (kind, clean, damaged, mask) and the noisy copies {task: [(clean, noisy)]}."""
    holes = hole_samples(data, images, seed)
    clean = [c for kind, c, _, _ in holes if kind == KINDS[0]]
    noisy = {task: list(zip(clean, (x for x, _ in damaged_inputs(clean, task, seed)))) for task in NOISE_LEVELS}
    return holes, noisy


def score(path, holes: list, noisy: dict) -> dict[str, list[float]]:
    """Per-sample PSNR of one checkpoint, per hole kind and noise task (the CPU, as shipped)."""
    engine = Engine.from_checkpoint(path, device="cpu")
    out = {kind: [metrics.psnr(c, engine.repair(x, m), m) for k, c, x, m in holes if k == kind] for kind in KINDS}
    out.update({task: [metrics.psnr(c, engine.repair(x)) for c, x in pairs] for task, pairs in noisy.items()})
    return out


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of b - a and its standard error."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def compare(a: dict[str, list[float]], b: dict[str, list[float]], names=("first", "second")) -> dict:
    """Print and return both means and the paired difference for every task both scored."""
    results = {}
    for task in a:
        diff, se = paired(a[task], b[task])
        results[task] = {names[0]: float(np.mean(a[task])), names[1]: float(np.mean(b[task])), "diff": diff, "se": se}
        print(f"{'fill' if task in KINDS else 'restore':<8}{task:<10} {names[0]} {np.mean(a[task]):.3f}  "
              f"{names[1]} {np.mean(b[task]):.3f}  difference {diff:+.3f} dB (se {se:.3f})", flush=True)
    return results


def fill_rule(results: dict) -> dict:
    """The rule for shipping a new fill network, fixed before any candidate is scored so that
    a candidate cannot choose it: small gains on few samples are noise."""
    mean = float(np.mean([results[k]["diff"] for k in KINDS]))
    rule = {
        "boxes_gain": results["boxes"]["diff"] > 0,
        "mean_gain": mean > 0,
        "no_loss_beyond_two_se": all(results[k]["diff"] >= -2 * results[k]["se"] for k in KINDS),
    }
    rule["ships"] = all(rule.values())
    print(f"mean of the four hole kinds {mean:+.3f} dB; " + ", ".join(f"{k} {v}" for k, v in rule.items()))
    return {"mean_diff": mean, **rule}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("first", type=Path, help="the reference, e.g. the shipped checkpoint")
    p.add_argument("second", type=Path, help="the candidate")
    p.add_argument("--data", required=True, help="clean images; not the benchmark's, to decide on")
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--seed", type=int, default=1, help="the holes' seed")
    args = p.parse_args(argv)
    holes, noisy = samples(args.data, args.images, args.seed)
    results = compare(score(args.first, holes, noisy), score(args.second, holes, noisy))
    results["rule"] = fill_rule(results)
    return results


if __name__ == "__main__":
    main()
