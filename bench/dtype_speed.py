"""float32 against bfloat16 (and any other dtype) for the shipped networks on this CPU: the
evidence behind aeapp/device.py's choice of bfloat16 on CPUs with native bfloat16 (AMX,
AVX512-BF16).

    python -m bench.dtype_speed --data ../shared/data/CBSD68 --images 8 [--dtypes float32 bfloat16]

Prints, per dtype, the warm median latency of a 1 MP repair with a 10% box hole (fill network)
and without a mask (restore network), each as a ratio to the first dtype; then the mean PSNR
on the first N images of the folder at noise sigma 25 and inside thick-stroke holes, with the
same seeded damage for every dtype. Run it on an idle machine.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from aeapp import damage, metrics
from aeapp.device import DTYPE_CHOICES
from aeapp.device import cpu_has_native_bfloat16
from aeapp.engine import get_engine
from bench.common import load_photos, median_seconds


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True)
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=DTYPE_CHOICES)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--checkpoint", default=None)
    args = p.parse_args(argv)

    images = load_photos(args.data, args.images)
    big = np.random.default_rng(0).random((1024, 1024, 3), dtype=np.float32)
    hole = np.zeros(big.shape[:2], bool)
    hole[350:674, 350:674] = True
    print(f"CPU native bfloat16 (AMX or AVX512-BF16): {cpu_has_native_bfloat16()}; {torch.get_num_threads()} threads", flush=True)
    results, base = {}, None
    for name in args.dtypes:
        engine = get_engine(args.checkpoint, device="cpu", dtype=name)
        engine.warmup()
        fill = median_seconds(lambda: engine.repair(big, hole), args.repeats)
        restore = median_seconds(lambda: engine.repair(big), args.repeats)
        noise, holes = [], []
        for i, clean in enumerate(images):
            noisy = damage.add_gaussian_noise(clean, 25.0, np.random.default_rng(i))
            noise.append(metrics.psnr(clean, engine.repair(noisy)))
            damaged, mask = damage.apply_damage(clean, "thick", np.random.default_rng(i))
            holes.append(metrics.psnr(clean, engine.repair(damaged, mask), mask))
        rec = {"fill_1mp_s": fill, "restore_1mp_s": restore, "psnr_noise25": float(np.mean(noise)), "psnr_thick_holes": float(np.mean(holes))}
        base = base or rec
        results[name] = rec
        print(f"{name:>9}: fill 1 MP {fill:.3f} s ({base['fill_1mp_s'] / fill:.2f}x), restore 1 MP {restore:.3f} s "
              f"({base['restore_1mp_s'] / restore:.2f}x); PSNR noise 25 {rec['psnr_noise25']:.3f} dB, "
              f"thick holes {rec['psnr_thick_holes']:.3f} dB", flush=True)
    return results


if __name__ == "__main__":
    main()
