"""Does a network depend on the image size it was trained at? Its validation PSNR on whole
images against the same images repaired in tiles of a few sizes.

    python -m bench.tile_size --checkpoint runs/restore/last.safetensors --network restore \
        --val-data ../shared/data/CBSD68 --tiles 128 256

The Fourier blocks see the whole coarsest map, and their spectra scale with its size, so a
network trained on small crops can behave differently on a whole photo; tiles of the crop
size show how much that costs. The damaged validation set is the training script's (same
seed, same images, written to --val-dir). PSNR inside the holes for "fill", over the
whole image for "restore".
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from aeapp import checkpoint
from aeapp.engine import Engine


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--network", choices=("fill", "restore"), required=True)
    p.add_argument("--val-data", required=True, help="folder of clean validation images")
    p.add_argument("--val-dir", type=Path, default=None, help="where the damaged copy lives (default: a temporary folder)")
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiles", type=int, nargs="*", default=[128, 256])
    p.add_argument("--overlap", type=int, default=32)
    args = p.parse_args(argv)
    from train.data import VAL_KINDS, make_validation_set
    from train.train import psnr_by_kind

    networks, info = checkpoint.load(args.checkpoint)
    networks = {args.network: networks[args.network]}
    if args.val_dir is None:
        import tempfile

        args.val_dir = Path(tempfile.mkdtemp(prefix="aeapp-val-"))
    samples = make_validation_set(args.val_data, args.val_dir, args.images, args.seed, VAL_KINDS[args.network])
    results = {}
    for tile in [0, *args.tiles]:  # 0: whole images (one tile up to the engine's default)
        engine = Engine(networks, torch.device("cpu"), torch.float32, restore_views=1, **({"tile": tile, "overlap": args.overlap} if tile else {}))
        row = psnr_by_kind(engine, samples)
        results["whole" if not tile else f"tiles of {tile}"] = row
        print(f"{'whole images' if not tile else f'tiles of {tile}':<14}" + "  ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    return {"steps": info.get("steps"), "results": results}


if __name__ == "__main__":
    main()
