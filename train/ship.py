"""Turn a training run's EMA checkpoint into the shipped one: float16 weights (half the
size; the engine computes in float32 on CPU), the training record kept, and optional
benchmark figures added to its `info`.

    python -m train.ship runs/main/best.safetensors checkpoints/aeapp-repair.safetensors \
        [--benchmark bench/results.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from aeapp import checkpoint


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("--benchmark", type=Path, help="a JSON file of measured figures to record in the checkpoint")
    args = p.parse_args(argv)
    model, config, info = checkpoint.load(args.source)
    if args.benchmark:
        info["benchmark"] = json.loads(args.benchmark.read_text())
    info["shipped_from"] = str(args.source)
    checkpoint.save(args.target, model, config, info, dtype=torch.float16)
    print(f"wrote {args.target} ({args.target.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
