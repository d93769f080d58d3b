"""Render the README's repair picture with the shipped checkpoint.

    python -m bench.readme_figure --out docs/repair_example.png

Rows: an example photo damaged with aeapp's seeded thick strokes, then with noise of sigma
25. Columns: the damaged input, OpenCV (Telea / non-local means), aeapp, the original.
PSNR (inside the holes for strokes) is printed and written into each panel's caption.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from aeapp import damage, image_io, peers
from aeapp.comparison import quality
from aeapp.engine import get_engine
from aeapp.masks import overlay

ROOT = Path(__file__).resolve().parent.parent


def caption(image: np.ndarray, text: str) -> np.ndarray:
    out = image_io.to_uint8(image).copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 22), (0, 0, 0), -1)
    cv2.putText(out, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", default=str(ROOT / "examples" / "chelsea.png"))
    p.add_argument("--out", default=str(ROOT / "docs" / "repair_example.png"))
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(argv)
    engine = get_engine()
    clean = image_io.load_image(args.image)
    rows = []
    holed, mask = damage.apply_damage(clean, "thick", np.random.default_rng(args.seed))
    ours, telea = engine.repair(holed, mask), peers.inpaint_telea(holed, mask)
    q_ours, q_telea = quality(clean, ours, mask)["psnr_holes"], quality(clean, telea, mask)["psnr_holes"]
    rows.append([caption(overlay(holed, mask, opacity=1.0), "damaged (thick strokes)"), caption(telea, f"OpenCV Telea {q_telea:.2f} dB"),
                 caption(ours, f"aeapp {q_ours:.2f} dB"), caption(clean, "original")])
    noisy, _ = damage.apply_damage(clean, "noise", np.random.default_rng(args.seed), sigma=25)
    ours, nlm = engine.repair(noisy), peers.denoise_nlm(noisy, sigma=25)
    rows.append([caption(noisy, f"noise sigma 25: {quality(clean, noisy)['psnr']:.2f} dB"),
                 caption(nlm, f"OpenCV NLM {quality(clean, nlm)['psnr']:.2f} dB"),
                 caption(ours, f"aeapp {quality(clean, ours)['psnr']:.2f} dB"), caption(clean, "original")])
    figure = np.concatenate([np.concatenate(r, axis=1) for r in rows], axis=0)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(figure, cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}: holes PSNR aeapp {q_ours:.2f} dB vs Telea {q_telea:.2f} dB")


if __name__ == "__main__":
    main()
