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

from aeapp import checkpoint
from bench.compare import compare, samples, score
from train import ship


def pack(source: Path, out: Path, weights: str) -> Path:
    ship.main(["--fill", str(source), "--restore", str(source), "-o", str(out),
               "--fill-weights", weights, "--restore-weights", weights])
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="clean images; not the benchmark's, to decide on")
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint", type=Path, default=checkpoint.DEFAULT_CHECKPOINT)
    args = p.parse_args(argv)
    holes, noisy = samples(args.data, args.images, args.seed)
    scores, sizes = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for weights in ("float16", "int8"):
            path = pack(args.checkpoint, Path(tmp) / f"{weights}.safetensors", weights)
            sizes[weights] = path.stat().st_size / 2**20
            scores[weights] = score(path, holes, noisy)
    print(f"file: float16 {sizes['float16']:.1f} MiB, int8 {sizes['int8']:.1f} MiB")
    return {"size_mib": sizes, **compare(scores["float16"], scores["int8"], names=("float16", "int8"))}


if __name__ == "__main__":
    main()
