"""Render the README's camera-noise picture: photos with a simulated camera's noise, restored.

    python -m bench.noisy_photos_figure --before runs/gaussian-only.safetensors \\
        --out docs/camera_noise_example.png

Each row is a centre crop of an example photo (none of them in the training data) as a
camera at the `camera_high` level would record it (aeapp.realistic_noise.camera_noise: shot
and read noise on a Bayer mosaic, demosaiced, tone-mapped, JPEG at quality 90; a pipeline
training never draws from). Columns: the noisy photo, the --before checkpoint's blind
restoration (a network trained on Gaussian noise only), the shipped checkpoint's, the
original. PSNR against the original is printed and written into each caption.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from aeapp import image_io
from aeapp.comparison import quality
from aeapp.engine import get_engine
from aeapp.realistic_noise import camera_noise
from bench.benchmark import centre_crop
from bench.readme_figure import ROOT, caption

PHOTOS = ("chelsea.png", "coffee.png", "astronaut.png")


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", required=True, help="the checkpoint to show as 'before' (e.g. trained on Gaussian noise only)")
    p.add_argument("--after", default=None, help="default: the shipped checkpoint")
    p.add_argument("--photos", nargs="+", default=[str(ROOT / "examples" / name) for name in PHOTOS])
    p.add_argument("--level", default="camera_high")
    p.add_argument("--crop", type=int, default=320)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labels", nargs=2, default=["Gaussian-trained", "aeapp"], metavar=("BEFORE", "AFTER"),
                   help="the two restorations' captions")
    p.add_argument("--out", default=str(ROOT / "docs" / "camera_noise_example.png"))
    args = p.parse_args(argv)
    before, after = get_engine(args.before), get_engine(args.after)
    rows, scores = [], []
    for i, path in enumerate(args.photos):
        clean = centre_crop(image_io.load_image(path), args.crop)
        noisy = camera_noise(clean, np.random.default_rng([args.seed, i]), args.level)
        old, new = before.repair(noisy), after.repair(noisy)
        q = {name: quality(clean, x)["psnr"] for name, x in (("noisy", noisy), ("before", old), ("after", new))}
        scores.append({"photo": Path(path).name, **q})
        print(f"{Path(path).name}: noisy {q['noisy']:.2f} dB, before {q['before']:.2f} dB, after {q['after']:.2f} dB")
        rows.append([caption(noisy, f"camera noise {q['noisy']:.2f} dB"), caption(old, f"{args.labels[0]} {q['before']:.2f} dB"),
                     caption(new, f"{args.labels[1]} {q['after']:.2f} dB"), caption(clean, "original")])
    figure = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(figure, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")
    return scores


if __name__ == "__main__":
    main()
