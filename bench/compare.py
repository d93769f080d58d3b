"""Two checkpoints scored on the same samples, paired: how a candidate is judged against the
shipped file before it ships (the shipping rule).

    python -m bench.compare checkpoints/aeapp-repair.safetensors runs/candidate.safetensors \\
        --data ../shared/data/CBSD432 "../shared/data/Urban100[20:40]" --images 64

Each set in --data (a folder, or FOLDER[start:stop]) is scored on its own: holes are
`bench.common.hole_samples` (each image with each hole kind, seeded by image and kind), noise
is the benchmark's (Gaussian sigma 15, 25 and 50, clipped and rounded to 8 bits; a simulated
camera's, low and high). Decide on sets that are not the benchmark's: BSDS500's training
images and the half of Urban100 the benchmark leaves out. Prints, per set, network and task,
both files' mean PSNR (inside the holes for holes) and the second's mean difference from the
first with the standard error of the paired differences; then the rules, which a candidate
must pass on every set, so that a gain on BSDS500 bought with a loss elsewhere does not ship:

  fill     boxes gain, the four hole kinds' mean gains, no kind loses by more than two
           standard errors
  restore  the mean over the noise tasks gains, no task loses by more than 0.1 dB (a cost a
           reader of the benchmark table could see)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from aeapp import damage, image_io, metrics
from aeapp.engine import Engine
from bench.common import damaged_inputs, hole_samples

KINDS = damage.MASK_KINDS
NOISE_TASKS = damage.NOISE_TASKS
NETWORK_TASKS = {"fill": KINDS, "restore": NOISE_TASKS}
RESTORE_TOLERANCE_DB = 0.1


def samples(data, images: int, seed: int) -> tuple[list, dict]:
    """The holes (kind, clean, damaged, mask) and the noisy copies {task: [(clean, noisy)]} of
    one set."""
    holes = hole_samples(data, images, seed)
    clean = [c for kind, c, _, _ in holes if kind == KINDS[0]]
    noisy = {task: list(zip(clean, (x for x, _ in damaged_inputs(clean, task, seed)))) for task in NOISE_TASKS}
    return holes, noisy


def score(path, holes: list, noisy: dict, networks=("fill", "restore")) -> dict[str, list[float]]:
    """Per-sample PSNR of one checkpoint, per hole kind and noise task (the CPU, as shipped)."""
    engine = Engine.from_checkpoint(path, device="cpu")
    out = {}
    if "fill" in networks:
        out.update({kind: [metrics.psnr(c, engine.repair(x, m), m) for k, c, x, m in holes if k == kind] for kind in KINDS})
    if "restore" in networks:
        out.update({task: [metrics.psnr(c, engine.repair(x)) for c, x in pairs] for task, pairs in noisy.items()})
    return out


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of b - a and its standard error."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def compare(a: dict[str, list[float]], b: dict[str, list[float]], names=("first", "second"), label: str = "") -> dict:
    """Print and return both means and the paired difference for every task both scored."""
    results = {}
    for task in a:
        diff, se = paired(a[task], b[task])
        results[task] = {names[0]: float(np.mean(a[task])), names[1]: float(np.mean(b[task])), "diff": diff, "se": se}
        print(f"{label}{'fill' if task in KINDS else 'restore':<8}{task:<12} {names[0]} {np.mean(a[task]):.3f}  "
              f"{names[1]} {np.mean(b[task]):.3f}  difference {diff:+.3f} dB (se {se:.3f})", flush=True)
    return results


def fill_rule(results: dict) -> dict:
    """The rule for shipping a new fill network on one set, fixed before any candidate is
    scored so that a candidate cannot choose it: small gains on few samples are noise."""
    mean = float(np.mean([results[k]["diff"] for k in KINDS]))
    rule = {
        "boxes_gain": results["boxes"]["diff"] > 0,
        "mean_gain": mean > 0,
        "no_loss_beyond_two_se": all(results[k]["diff"] >= -2 * results[k]["se"] for k in KINDS),
    }
    rule["ships"] = all(rule.values())
    return {"mean_diff": mean, **rule}


def restore_rule(results: dict) -> dict:
    """The rule for shipping a new restore network on one set: the mean over the noise tasks
    gains and none loses more than RESTORE_TOLERANCE_DB. A tolerance rather than standard
    errors: every image's noise is scored, so tiny systematic changes are significant, and
    a network that trades 0.05 dB of Gaussian noise for a dB on a camera's should ship."""
    tasks = [t for t in NOISE_TASKS if t in results]
    mean = float(np.mean([results[t]["diff"] for t in tasks]))
    rule = {"mean_gain": mean > 0, "no_loss_beyond_tolerance": all(results[t]["diff"] >= -RESTORE_TOLERANCE_DB for t in tasks)}
    rule["ships"] = all(rule.values())
    return {"mean_diff": mean, **rule}


RULES = {"fill": fill_rule, "restore": restore_rule}


def verdict(network: str, per_set: dict[str, dict]) -> dict:
    """A network's rule on every set; it ships only where it passes on all of them."""
    sets = {name: RULES[network](results) for name, results in per_set.items()}
    ships = all(r["ships"] for r in sets.values())
    for name, r in sets.items():
        print(f"{network} on {name}: mean {r['mean_diff']:+.3f} dB; " + ", ".join(f"{k} {v}" for k, v in r.items() if k != "mean_diff"))
    print(f"{network}: ships {ships}" + ("" if ships else f" (fails on {', '.join(n for n, r in sets.items() if not r['ships'])})"))
    return {"sets": sets, "ships": ships}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("first", type=Path, help="the reference, e.g. the shipped checkpoint")
    p.add_argument("second", type=Path, help="the candidate")
    p.add_argument("--data", required=True, nargs="+", metavar="SET",
                   help="sets of clean images, not the benchmark's: folders, or FOLDER[start:stop]")
    p.add_argument("--images", type=int, default=64, help="at most this many images of each set")
    p.add_argument("--seed", type=int, default=1, help="the holes' and noise's seed")
    p.add_argument("--networks", nargs="+", default=["fill", "restore"], choices=list(RULES), help="which networks to judge")
    args = p.parse_args(argv)
    results: dict = {"sets": {}}
    for spec in args.data:
        name = image_io.image_set_name(spec)
        name = spec if name in results["sets"] else name  # two slices of one folder
        holes, noisy = samples(spec, args.images, args.seed)
        results["sets"][name] = compare(score(args.first, holes, noisy, args.networks),
                                        score(args.second, holes, noisy, args.networks), label=f"{name:<10} ")
    for network in args.networks:
        results[network] = verdict(network, {n: {t: r[t] for t in NETWORK_TASKS[network]} for n, r in results["sets"].items()})
    return results


if __name__ == "__main__":
    main()
