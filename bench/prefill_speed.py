"""What a prefill costs: the shipped fill network's repair time from each first-pass prefill,
timed in the same process, interleaved image by image so a noisy machine slows every
prefill alike (the evidence behind `telea_ns_band`'s cost, checkpoints/README.md, experiment 36).

    python -m bench.prefill_speed --data ../shared/data/CBSD68 --images 16 [--prefills telea_ns telea_ns_band]

Prints, per hole kind (the benchmark's damage, seed 0) and at 1 MP (a 1/12 box hole, as in
the benchmark's latency rows), each prefill's median seconds per repair, megapixels per
second and its ratio to the first prefill's.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from aeapp.config import PREFILLS
from aeapp.engine import get_engine
from bench.benchmark import config_replaced, damaged_inputs, latency_mask, load_photos, median_seconds
from bench.fill_options import KINDS


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--prefills", nargs="+", default=["telea_ns", "telea_ns_band"], choices=PREFILLS)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--checkpoint", default=None)
    args = p.parse_args(argv)

    engine = get_engine(args.checkpoint, device="cpu")
    engine.warmup()
    fill = engine.network("fill")
    images = load_photos(args.data, args.images)
    cases = {kind: damaged_inputs(images, kind, 0) for kind in KINDS}
    big = cv2.resize(images[0], (1024, 1024), interpolation=cv2.INTER_CUBIC)
    cases["1 MP box"] = [(big, latency_mask(1024, 1024))] * 5  # five interleaved rounds: one image is noisier than 16

    def timed(prefill, x, m) -> float:
        with config_replaced(fill, prefill=prefill):
            return median_seconds(lambda: engine.repair(x, m), args.repeats)

    results = {}
    for case, samples in cases.items():
        seconds = {name: [] for name in args.prefills}
        for x, m in samples:  # interleaved: each image with every prefill in turn
            for name in args.prefills:
                seconds[name].append(timed(name, x, m))
        megapixels = float(np.mean([m.size for _, m in samples])) / 1e6
        base = float(np.median(seconds[args.prefills[0]]))
        results[case] = {}
        for name, s in seconds.items():
            median = float(np.median(s))
            results[case][name] = {"seconds_median": median, "megapixels_per_second": megapixels / median, "ratio": median / base}
            print(f"{case:<10} {name:<14} {median:.3f} s  ({megapixels / median:.2f} MP/s, {median / base:.2f}x)", flush=True)
    return results


if __name__ == "__main__":
    main()
