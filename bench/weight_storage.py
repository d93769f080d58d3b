"""What storing a network's weights in 8 bits (int8, one scale per output channel) instead of
float16 costs in quality, per network: the evidence for `train.ship --fill-weights` and
`--restore-weights` (checkpoints/README.md, experiment 32).

    python -m bench.weight_storage --data ../shared/data/CBSD432 --images 16

Packs the checkpoint's two networks twice with `train.ship` (float16, and int8), then scores
both files on the same samples: PSNR inside the holes per hole kind (`bench.fill_options`'
damage) and blind-restoration PSNR per sigma (the benchmark's noise), printed as the int8
file's mean difference from the float16 file with its standard error (paired samples).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from aeapp import checkpoint, metrics
from aeapp.engine import Engine
from bench.benchmark import NOISE_TASKS, damaged_inputs
from bench.fill_options import KINDS, damaged_samples
from train import ship


def pack(source: Path, out: Path, weights: str) -> Path:
    ship.main(["--fill", str(source), "--restore", str(source), "-o", str(out),
               "--fill-weights", weights, "--restore-weights", weights])
    return out


def paired(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of b - a and its standard error."""
    d = np.asarray(b) - np.asarray(a)
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="clean images; not the benchmark's, to decide on")
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint", type=Path, default=checkpoint.DEFAULT_CHECKPOINT)
    args = p.parse_args(argv)
    holes = damaged_samples(args.data, args.images, args.seed)
    clean = [c for kind, c, _, _ in holes if kind == KINDS[0]]
    noisy = {task: [x for x, _ in damaged_inputs(clean, task, args.seed)] for task in NOISE_TASKS}
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        for weights in ("float16", "int8"):
            path = pack(args.checkpoint, Path(tmp) / f"{weights}.safetensors", weights)
            engine = Engine.from_checkpoint(path, device="cpu")
            rec = {"size_mib": path.stat().st_size / 2**20}
            for kind in KINDS:
                rec[kind] = [metrics.psnr(c, engine.repair(x, m), m) for k, c, x, m in holes if k == kind]
            for task, inputs in noisy.items():
                rec[task] = [metrics.psnr(c, engine.repair(x)) for c, x in zip(clean, inputs)]
            scores[weights] = rec
    base, q = scores["float16"], scores["int8"]
    results = {"size_mib": {w: scores[w]["size_mib"] for w in scores}}
    print(f"file: float16 {base['size_mib']:.1f} MiB, int8 {q['size_mib']:.1f} MiB")
    for task in (*KINDS, *NOISE_TASKS):
        diff, se = paired(base[task], q[task])
        results[task] = {"float16": float(np.mean(base[task])), "int8": float(np.mean(q[task])), "diff": diff, "se": se}
        network = "fill" if task in KINDS else "restore"
        print(f"{network:<8}{task:<10} float16 {np.mean(base[task]):.3f}  int8 {np.mean(q[task]):.3f}  "
              f"difference {diff:+.3f} dB (se {se:.3f})", flush=True)
    return results


if __name__ == "__main__":
    main()
