"""What the heap policy costs per repair: the engine's default (freed memory handed back to the
OS after every network pass) against the CLI's (`aeapp.heap.batch_mode`: kept for the next image),
in the same process, in alternating blocks so a noisy machine slows both alike
(checkpoints/README.md, experiment 38).

    python -m bench.heap_policy --data ../shared/data/CBSD68 --images 12 --rounds 3

Prints, per case (the benchmark's thick strokes and noise of sigma 25 on the first N images,
the latency rows' 1 MP box), each policy's median seconds per repair over the rounds, its
ratio to the default's, and the resident memory after each block.
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from aeapp import heap
from aeapp.engine import get_engine
from bench.benchmark import damaged_inputs, latency_mask, load_photos


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--checkpoint", default=None)
    args = p.parse_args(argv)

    engine = get_engine(args.checkpoint, device="cpu")
    engine.warmup()
    images = load_photos(args.data, args.images)
    big = cv2.resize(images[0], (1224, 816), interpolation=cv2.INTER_CUBIC)
    cases = {
        "thick strokes": damaged_inputs(images, "thick", 0),
        "noise 25": [(x, None) for x, _ in damaged_inputs(images, "noise25", 0)],
        "1 MP box": [(big, latency_mask(*big.shape[:2]))] * 3,
    }
    policies = {"pass": lambda: heap.keeping_freed_memory(0), "batch": heap.batch_mode}
    results = {}
    for case, samples in cases.items():
        seconds = {name: [] for name in policies}
        for _ in range(args.rounds):
            for name, policy in policies.items():
                with policy():
                    start = time.perf_counter()
                    for x, m in samples:
                        engine.repair(x, m)
                    seconds[name].append((time.perf_counter() - start) / len(samples))
                    rss = heap.resident_mib()
                print(f"{case:<14} {name:<7} {seconds[name][-1]:.3f} s per repair, resident {rss:.0f} MiB", flush=True)
        base = statistics.median(seconds["pass"])
        medians = {name: statistics.median(s) for name, s in seconds.items()}
        results[case] = {name: {"seconds_median": m, "ratio": m / base} for name, m in medians.items()}
        print(f"{case:<14} " + ", ".join(f"{n} {m:.3f} s ({m / base:.2f}x)" for n, m in medians.items()), flush=True)
    return results


if __name__ == "__main__":
    main()
