"""How much averaging the restore network over rotations of the image (a self-ensemble) buys
in blind denoising, and what it costs: the evidence behind aeapp/config.py's RESTORE_VIEWS.

    python -m bench.self_ensemble --data ../shared/data/CBSD68 --images 10 [--views 1 2 4 8]

Prints, per number of views and per sigma, the mean PSNR on the first N images of the folder
(the benchmark's own seeded noise, so the figures line up with its BM3D rows) and the gain
over one view; then the warm median seconds of a 1 MP restoration and its ratio to one view.
"""

from __future__ import annotations

import argparse

import numpy as np

from aeapp import checkpoint, image_io, metrics
from aeapp.engine import Engine
from bench.benchmark import NOISE_TASKS, damaged_inputs, median_seconds


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=10)
    p.add_argument("--views", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--seed", type=int, default=0, help="the benchmark's seed")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--checkpoint", default=None)
    args = p.parse_args(argv)
    images = [image_io.load_image(path) for path in image_io.list_images(args.data)[: args.images]]
    noisy = {task: [x for x, _ in damaged_inputs(images, task, args.seed)] for task in NOISE_TASKS}
    big = np.random.default_rng(0).random((1024, 1024, 3), dtype=np.float32)
    results = {}
    for views in args.views:
        engine = Engine.from_checkpoint(args.checkpoint or checkpoint.DEFAULT_CHECKPOINT, restore_views=views)
        engine.warmup()
        rec = {task: float(np.mean([metrics.psnr(c, engine.repair(x)) for c, x in zip(images, noisy[task])])) for task in NOISE_TASKS}
        rec["restore_1mp_s"] = median_seconds(lambda: engine.repair(big), args.repeats)
        results[views] = rec
        base = results[args.views[0]]
        gains = "  ".join(f"{t} {rec[t]:.3f} ({rec[t] - base[t]:+.3f})" for t in NOISE_TASKS)
        print(f"{views} view(s): {gains}  1 MP {rec['restore_1mp_s']:.3f} s ({rec['restore_1mp_s'] / base['restore_1mp_s']:.2f}x)", flush=True)
    return results


if __name__ == "__main__":
    main()
