"""How fast one loader worker makes fill-training batches, per prefill: what bounds a
training run on a machine whose accelerator outruns its CPU cores (checkpoints/README.md,
*Known shortfalls*).

    python -m bench.loader_speed --data ../shared/data/CBSD432 --images 40 --batches 10

Each batch (crops of --crop to --crop-max pixels, the training's damage mixture) is made
once per prefill from the same random stream, so every prefill sees the same crops and
holes, interleaved batch by batch so a noisy machine slows them alike. One thread, as in a
DataLoader worker. Prints megapixels of crops per second and the ratio to the first prefill.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from aeapp.config import PREFILLS, TrainConfig
from train.data import DamagedCrops, load_folder


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=48, help="crops per batch at --crop pixels (fewer when larger)")
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--crop-max", type=int, default=256)
    p.add_argument("--prefills", nargs="+", default=["telea_ns", "telea", "coarse", "zeros"], choices=PREFILLS)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.set_num_threads(1)
    images = load_folder(args.data, limit=args.images)
    base = TrainConfig()
    loaders = {
        name: DamagedCrops(images, dataclasses.replace(
            base, task="fill", batch_size=args.batch_size, crop=args.crop, crop_max=args.crop_max,
            seed=args.seed, model=dataclasses.replace(base.model, prefill=name)))
        for name in args.prefills
    }
    seconds = {name: 0.0 for name in args.prefills}
    megapixels = 0.0
    for b in range(args.batches + 1):  # batch 0 warms up and is not counted
        for name, loader in loaders.items():
            t = time.perf_counter()
            clean, _, _ = loader.make_batch(np.random.default_rng([args.seed, b]))
            if b:
                seconds[name] += time.perf_counter() - t
        if b:
            megapixels += clean.shape[0] * clean.shape[2] * clean.shape[3] / 1e6
    results = {}
    first = megapixels / seconds[args.prefills[0]]
    for name, s in seconds.items():
        rate = megapixels / s
        results[name] = {"megapixels_per_second": rate, "ratio": rate / first}
        print(f"{name:<14} {rate:6.2f} MP/s per core  ({rate / first:.2f}x)", flush=True)
    return results


if __name__ == "__main__":
    main()
