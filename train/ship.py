"""Pack the two trained networks into the shipped checkpoint: each network's weights in
float16 (half float32's size) or int8 with per-channel scales (a quarter: room for a larger
network under the core issue's 16 MiB), its training record kept, and optional benchmark
figures added to the `info`. The engine casts the weights to the dtype aeapp/device.py picks.

    python -m train.ship --fill runs/fill/best.safetensors --restore runs/restore/best.safetensors \\
        -o checkpoints/aeapp-repair.safetensors [--fill-noisy-skip-levels 1] [--restore-noisy-skip-levels 0 1] \\
        [--prefill telea_ns] [--fill-weights int8] [--restore-weights float16] \\
        [--benchmark bench/results/results.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from aeapp import checkpoint
from aeapp.config import PREFILLS

WEIGHT_DTYPES = {"float16": torch.float16, "int8": torch.int8}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fill", type=Path, required=True, help="a training run's checkpoint of the fill network")
    p.add_argument("--restore", type=Path, required=True, help="a training run's checkpoint of the restore network")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--benchmark", type=Path, help="a JSON file of measured figures to record in the checkpoint")
    for name in ("fill", "restore"):
        p.add_argument(f"--{name}-noisy-skip-levels", type=int, nargs="*", default=None,
                       help=f"the {name} network's skip levels that receive latent noise at inference (default: as trained)")
    p.add_argument("--prefill", choices=PREFILLS, default=None,
                   help="the fill network's first-pass prefill at inference (default: as trained)")
    for name in ("fill", "restore"):
        p.add_argument(f"--{name}-weights", choices=sorted(WEIGHT_DTYPES), default="float16",
                       help=f"how the {name} network's weights are stored (default: float16)")
    args = p.parse_args(argv)
    networks, info = {}, {"networks": {}}
    for name, source in (("fill", args.fill), ("restore", args.restore)):
        models, run_info = checkpoint.load(source)
        if name not in models:
            raise SystemExit(f"{source} has no {name!r} network (it has {', '.join(models)})")
        model = models[name]
        levels = getattr(args, f"{name}_noisy_skip_levels")
        if levels is not None:  # weights are unchanged: only where variations add noise
            model.inference = dataclasses.replace(model.inference, noisy_skip_levels=tuple(levels))
            model.inference.check(model.config)
        if args.prefill and name == "fill":
            model.inference = dataclasses.replace(model.inference, prefill=args.prefill)
        networks[name] = model
        # A shipped file as the source: keep that network's own record (and first source).
        info["networks"][name] = {"source": str(source), **checkpoint.training_record(run_info, name)}
    if args.benchmark:
        info["benchmark"] = json.loads(args.benchmark.read_text())
    weights = {name: getattr(args, f"{name}_weights") for name in networks}
    for name, stored in weights.items():
        info["networks"][name]["weights"] = stored
    checkpoint.save(args.output, networks, info, dtype={name: WEIGHT_DTYPES[w] for name, w in weights.items()})
    print(f"wrote {args.output} ({args.output.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
