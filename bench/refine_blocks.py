"""What running the fill network's refinement head only on blocks with holes saves: the
shipped engine's repair time against the same engine with the head run over the whole image,
in the same process, interleaved image by image (checkpoints/README.md, experiment 38).

    python -m bench.refine_blocks --data ../shared/data/CBSD68 --images 16

Prints, per hole kind (the benchmark's damage, seed 0) and at 1 MP (the latency rows' box,
and thick strokes), each way's median seconds per repair, megapixels per second and ratio
to the whole-image head, and the largest difference between the two repairs (the head's
output in a block is the one the whole image gives, so it should be 0).
"""

from __future__ import annotations

import argparse
from unittest import mock

import cv2
import numpy as np

from aeapp import damage, model
from aeapp.engine import get_engine
from bench.benchmark import damaged_inputs, latency_mask, load_photos, median_seconds
from bench.fill_options import KINDS

WAYS = {"whole image": 2.0, "blocks": model.HEAD_BLOCKS_MAX_SHARE}  # a share above 1 never takes blocks


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--checkpoint", default=None)
    args = p.parse_args(argv)

    engine = get_engine(args.checkpoint, device="cpu")
    engine.warmup()
    images = load_photos(args.data, args.images)
    cases = {kind: damaged_inputs(images, kind, 0) for kind in KINDS}
    big = cv2.resize(images[0], (1224, 816), interpolation=cv2.INTER_CUBIC)
    cases["1 MP box"] = [(big, latency_mask(*big.shape[:2]))] * 5  # five interleaved rounds
    cases["1 MP thick"] = [damage.apply_damage(big, "thick", np.random.default_rng(r)) for r in range(5)]

    results = {}
    for case, samples in cases.items():
        seconds, largest_difference = {way: [] for way in WAYS}, 0.0
        for x, m in samples:  # interleaved: each image both ways in turn
            outputs = []
            for way, share in WAYS.items():
                with mock.patch.object(model, "HEAD_BLOCKS_MAX_SHARE", share):
                    seconds[way].append(median_seconds(lambda: engine.repair(x, m), args.repeats))
                    outputs.append(engine.repair(x, m))
            largest_difference = max(largest_difference, float(np.abs(outputs[0] - outputs[1]).max()))
        megapixels = float(np.mean([m.size for _, m in samples])) / 1e6
        base = float(np.median(seconds["whole image"]))
        results[case] = {"largest_difference": largest_difference}
        for way, s in seconds.items():
            median = float(np.median(s))
            results[case][way] = {"seconds_median": median, "megapixels_per_second": megapixels / median, "ratio": median / base}
            print(f"{case:<10} {way:<12} {median:.3f} s  ({megapixels / median:.2f} MP/s, {median / base:.2f}x)", flush=True)
        print(f"{case:<10} largest difference between the two: {largest_difference:.1e}", flush=True)
    return results


if __name__ == "__main__":
    main()
