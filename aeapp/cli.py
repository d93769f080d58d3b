"""`python -m aeapp`: repair, vary, augment, damage and info, over the same Engine as the app.

Heavy imports (torch, the model) happen inside each command so `--help` is instant. A bad
file in a folder is reported on one line and skipped; the exit status is 1 when any file
failed, 2 for a bad command line or unusable checkpoint.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from . import heap
from .device import DEVICE_CHOICES, DTYPE_CHOICES

DAMAGE_KINDS = ("thin", "thick", "boxes", "scratches", "noise", "camera")  # aeapp.damage.KINDS, without importing numpy for --help
VARY_STRENGTH = 3.0  # aeapp.engine.VARY_STRENGTH, without importing torch for --help

EXIT_FAILED_FILES = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A problem with the command as a whole: printed on one line, exit status 2."""


def _fail(msg: str) -> None:
    print(f"aeapp: error: {msg}", file=sys.stderr)


def _inputs(path: str) -> tuple[list[Path], Path | None]:
    """(image files, root folder or None) for a file or a folder argument."""
    found = _gather([path])
    return [f for f, _ in found], found[0][1]


def _output_path(src: Path, root: Path | None, out: Path, suffix: str = "", single_file_ok: bool = True) -> Path:
    """Where the result for `src` goes: `out` itself for a single input with an image suffix,
    else out/<path relative to root>/<stem><suffix>.png."""
    from .image_io import WRITE_SUFFIXES

    if root is None and single_file_ok and out.suffix.lower() in WRITE_SUFFIXES:
        return out
    rel = src.relative_to(root).parent if root is not None else Path()
    return out / rel / f"{src.stem}{suffix}.png"


def _progress(items, desc: str):
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="img", disable=len(items) < 2, file=sys.stderr)


def _engine(args):
    from .engine import get_engine

    try:
        return get_engine(args.checkpoint, device=args.device, dtype=None if args.dtype == "auto" else args.dtype)
    except ValueError as e:  # CheckpointError, or an unavailable device
        raise UsageError(str(e)) from None


def _run_per_file(files, desc: str, work) -> int:
    """Call work(path) for each file; report failures on one line each and keep going."""
    failed = 0
    for path in _progress(files, desc):
        try:
            work(path)
        except (ValueError, OSError) as e:
            failed += 1
            print(f"aeapp: {path}: {e}", file=sys.stderr)
    if failed:
        print(f"aeapp: {failed} of {len(files)} file(s) failed", file=sys.stderr)
    return EXIT_FAILED_FILES if failed else 0


def _find_mask(mask_dir: Path, stem: str) -> Path:
    from .image_io import IMAGE_SUFFIXES

    for candidate in sorted(mask_dir.glob(f"{stem}.*")):
        if candidate.suffix.lower() in IMAGE_SUFFIXES:
            return candidate
    raise ValueError(f"no mask named {stem}.* in {mask_dir}")


# ---- commands -----------------------------------------------------------------------------


def _gather(items: list[str]) -> list[tuple[Path, Path | None]]:
    """(image file, the folder it was found in or None) for every file and folder named on
    the command line (shell globs arrive as many names); a folder is searched recursively."""
    from .image_io import IMAGE_SUFFIXES, list_images

    found: list[tuple[Path, Path | None]] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            files = list_images(p)
            if not files:
                raise UsageError(f"no images ({', '.join(s.lstrip('.') for s in IMAGE_SUFFIXES)}) found in {p}")
            found += [(f, p) for f in files]
        elif p.exists():
            found.append((p, None))
        else:
            raise UsageError(f"{p} does not exist")
    return found


def _repair_target(src: Path, root: Path | None, out: Path, single: bool, fmt: str) -> Path:
    """`out` itself for a single input when it names a file; else out/<path under its
    folder>/<stem>.<format>, the format the input's own unless --format says otherwise."""
    from .image_io import WRITE_SUFFIXES

    if single and out.suffix.lower() in WRITE_SUFFIXES:
        return out
    suffix = f".{fmt}" if fmt != "keep" else (src.suffix.lower() if src.suffix.lower() in WRITE_SUFFIXES else ".png")
    rel = src.relative_to(root).parent if root is not None else Path()
    return out / rel / f"{src.stem}{suffix}"


def _check_range(name: str, value, low, high) -> None:
    """A numeric option outside what the engine takes: a usage error before any work."""
    if not low <= value <= high:
        raise UsageError(f"{name} must be between {low:g} and {high:g}, got {value:g}")


def cmd_repair(args) -> int:
    import tempfile

    from .image_io import WRITE_SUFFIXES, read_image, save_image

    _check_range("--quality", args.quality, 1, 100)
    _check_range("--steps", args.steps, 1, 16)
    _check_range("--strength", args.strength, 0, 5)
    mask_arg = Path(args.mask) if args.mask else None
    if mask_arg is not None and not mask_arg.exists():
        raise UsageError(f"mask {mask_arg} does not exist")
    out = Path(args.output)
    if args.input == ["-"]:
        if args.output != "-" and out.suffix.lower() not in WRITE_SUFFIXES:
            raise UsageError(f"with - as the input, -o must be an image file or -, not {out}")
        if mask_arg is not None and mask_arg.is_dir():
            raise UsageError("with - as the input, --mask must be one image, not a folder")
        inputs: list[tuple[Path, Path | None]] = [(Path("-"), None)]
    else:
        if "-" in args.input:
            raise UsageError("- (standard input) can only be the one input")
        inputs = _gather(args.input)
    single = len(inputs) == 1 and inputs[0][1] is None
    if args.output == "-" and not single:
        raise UsageError("-o - (standard output) takes a single input image")
    if not single and out.suffix.lower() in WRITE_SUFFIXES:
        raise UsageError(f"there are several inputs, so -o must be a folder, not {out}")
    if single and args.output != "-" and out.suffix and out.suffix.lower() not in WRITE_SUFFIXES and not out.is_dir():
        raise UsageError(f"cannot write {out.name}: name a {', '.join(s.lstrip('.') for s in WRITE_SUFFIXES)} file, or a folder")
    engine = _engine(args)
    roots = dict(inputs)

    def work(path: Path):
        source = sys.stdin.buffer.read() if str(path) == "-" else path
        loaded = read_image(source, name="standard input" if str(path) == "-" else None)
        if mask_arg is None:
            mask = None
        elif mask_arg.is_dir():
            mask = _find_mask(mask_arg, path.stem)
        else:
            mask = mask_arg
        result = engine.repair(loaded, mask, steps=args.steps, strength=args.strength, seed=args.seed)
        if args.output == "-":
            fmt = "png" if args.format == "keep" else args.format
            with tempfile.TemporaryDirectory() as tmp:
                written = save_image(result, Path(tmp) / f"out.{fmt}", quality=args.quality, metadata=loaded.metadata)
                sys.stdout.buffer.write(written.read_bytes())
            sys.stdout.buffer.flush()
            return
        target = _repair_target(path, roots[path], out, single, args.format)
        save_image(result, target, quality=args.quality, metadata=loaded.metadata)

    files = [p for p, _ in inputs]
    if args.skip_existing and args.output != "-":
        todo = [p for p in files if not _repair_target(p, roots[p], out, single, args.format).exists()]
        if len(todo) < len(files):
            print(f"aeapp: skipping {len(files) - len(todo)} image(s) whose output exists", file=sys.stderr)
        files = todo
    return _run_per_file(files, "repair", work) if files else 0


def cmd_vary(args) -> int:
    from .image_io import save_image

    src = Path(args.input)
    if not src.is_file():
        raise UsageError(f"{src} is not an image file")
    _check_range("--strength", args.strength, 0, 5)
    _check_range("--count", args.count, 1, 64)
    engine = _engine(args)

    def work(path: Path):
        variants = engine.vary(path, strength=args.strength, count=args.count, seed=args.seed)
        for i, v in enumerate(variants):
            save_image(v, Path(args.output) / f"{path.stem}_seed{args.seed + i}.png")

    return _run_per_file([src], "vary", work)


def cmd_augment(args) -> int:
    import numpy as np

    from .augment import AugmentSettings, augment
    from .image_io import save_image

    _check_range("--strength", args.strength, 0, 5)
    _check_range("--per-image", args.per_image, 1, 1000)
    files, root = _inputs(args.input)
    if root is None:
        raise UsageError("augment takes a folder of images")
    try:
        settings = AugmentSettings(
            hflip=args.hflip,
            vflip=args.vflip,
            rotation=args.rotation,
            crop=args.crop,
            brightness=args.brightness,
            contrast=args.contrast,
            saturation=args.saturation,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    engine = _engine(args) if args.strength > 0 else None
    out = Path(args.output)
    index = {p: i for i, p in enumerate(files)}
    rows: list[dict] = []

    def written(source: Path, target: Path, copy, seed, strength) -> None:
        rows.append({"file": target.relative_to(out).as_posix(), "source": source.relative_to(root).as_posix(),
                     "label": source.relative_to(root).parent.as_posix(), "copy": copy, "seed": seed, "strength": strength})

    def work(path: Path):
        from .image_io import load_image

        image = load_image(path)
        # Seeds base .. base+per_image-1, the base drawn from (run seed, file index): the
        # same folder gives the same copies, and each image is encoded once for all of them.
        base = int(np.random.SeedSequence([args.seed, index[path]]).generate_state(1)[0] % 2**31)
        seeds = range(base, base + args.per_image)
        bases = engine.vary(image, strength=args.strength, count=args.per_image, seed=base) if engine else [image] * args.per_image
        for k, (varied, s) in enumerate(zip(bases, seeds)):
            written(path, save_image(augment(varied, settings, s), _output_path(path, root, out, f"_aug{k}")), k, s, args.strength)
        if args.include_original:
            written(path, save_image(image, _output_path(path, root, out)), "original", "", 0)

    code = _run_per_file(files, "augment", work)
    settings_record = {"seed": args.seed, "per_image": args.per_image, "strength": args.strength, "augment": settings.to_dict()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "augment.json").write_text(json.dumps(settings_record, indent=2))
    with open(out / "manifest.csv", "w", newline="") as f:  # one row per written image, for datasets and audits
        writer = csv.DictWriter(f, fieldnames=["file", "source", "label", "copy", "seed", "strength"])
        writer.writeheader()
        writer.writerows(rows)
    return code


def cmd_damage(args) -> int:
    import numpy as np

    from .damage import apply_damage
    from .image_io import load_image, save_image

    files, root = _inputs(args.input)
    out = Path(args.output)
    index = {p: i for i, p in enumerate(files)}

    def work(path: Path):
        rng = np.random.default_rng([args.seed, index[path]])
        damaged, mask = apply_damage(load_image(path), args.kind, rng, sigma=args.sigma)
        save_image(damaged, _output_path(path, root, out, "_damaged", single_file_ok=False))
        save_image(mask, _output_path(path, root, out, "_mask", single_file_ok=False))

    return _run_per_file(files, "damage", work)


def cmd_info(args) -> int:
    from .checkpoint import DEFAULT_CHECKPOINT, SCALE_SUFFIX, read_header, training_record

    path = Path(args.checkpoint or DEFAULT_CHECKPOINT)
    try:
        configs, inference, info = read_header(path)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.json:
        print(json.dumps({"checkpoint": str(path), "networks": {k: c.to_dict() for k, c in configs.items()},
                          "inference": {k: c.to_dict() for k, c in inference.items()}, "info": info}, indent=2))
        return 0
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        params = {name: sum(_numel(f.get_slice(k).get_shape()) for k in f.keys()
                            if k.startswith(name + ".") and not k.endswith(SCALE_SUFFIX)) for name in configs}
    print(f"checkpoint   {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    for name, config in configs.items():
        run = training_record(info, name)
        print(f"\nnetwork {name!r}: {params[name] / 1e6:.2f} M parameters, widths {list(config.widths)}, "
              f"unshuffle {config.unshuffle}, stride {config.stride}, latent {config.latent_channels} channels, "
              f"{config.global_blocks} Fourier blocks" + (f", prefill {inference[name].prefill}" if name == "fill" else "")
              + (f", full-resolution refinement head of {config.refine_channels} channels" if config.refine_channels else "")
              + f", latent noise on skip levels {list(inference[name].noisy_skip_levels)}"
              + (f", {run['weights']} weights" if "weights" in run else ""))
        for key in ("command", "data", "training_images", "seed", "steps", "minutes", "device", "world_size", "commit"):
            if key in run:
                print(f"  {key:<16} {run[key]}")
        for k, v in run.get("validation", {}).items():
            print(f"  {'validation ' + k:<28} {v:.3f}" if isinstance(v, float) else f"  {k} {v}")
        source = run.get("init_from")
        while source:  # a fine-tune: the runs its starting weights came from, newest first
            print(f"  fine-tuned from  {source.get('path')}: {source.get('steps')} steps, {source.get('minutes')} min, "
                  f"by {source.get('command', '?')}")
            source = source.get("init_from")
    benchmark = info.get("benchmark") or {}
    if benchmark.get("sets"):
        print(f"\nbenchmark: {benchmark.get('command', '')}")
        if benchmark.get("machine"):
            print(f"  on {benchmark['machine']}")
        for image_set in benchmark["sets"]:
            print(f"  {image_set.get('name', '?')} ({image_set.get('images', '?')} images):")
            for row in image_set.get("tasks", []):
                if row.get("method") == "aeapp":
                    holes = f", in holes {row['psnr_holes']:.2f} dB" if "psnr_holes" in row else ""
                    print(f"    {row['task']:<12} PSNR {row['psnr']:.2f} dB{holes}, SSIM {row['ssim']:.4f}")
    return 0


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


# ---- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="aeapp", description="Image repair and augmentation with a convolutional autoencoder.")
    p.add_argument("--version", action="version", version=f"aeapp {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def engine_args(sp):
        sp.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where to run (default: CUDA if present)")
        sp.add_argument("--dtype", default="auto", choices=("auto", *DTYPE_CHOICES),
                        help="number format (default: float16 on CUDA, bfloat16 on CPUs with native bfloat16 (AMX, AVX512-BF16), else float32)")
        sp.add_argument("--checkpoint", default=None, help="a .safetensors checkpoint (default: the shipped one)")

    r = sub.add_parser("repair", help="fill painted holes, or denoise the whole image without a mask")
    r.add_argument("input", nargs="+", metavar="IMAGE_OR_DIR",
                   help="images and folders of images (searched recursively), or - for one image on standard input")
    r.add_argument("--mask", metavar="MASK_OR_DIR", help="a mask for every image, or a folder of masks paired by file stem; "
                   "nonzero or opaque pixels are repaired. Without it: blind restoration")
    r.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="an image file for one input (its extension picks the format), a folder otherwise, "
                   "or - for standard output")
    r.add_argument("--format", default="keep", choices=("keep", "png", "jpg", "webp", "tif"),
                   help="the format of images written to a folder (default: each input's own; PNG for formats "
                   "aeapp does not write) or to standard output (default PNG)")
    r.add_argument("--quality", type=int, default=95, help="JPEG and WebP quality, 1 to 100 (default 95)")
    r.add_argument("--skip-existing", action="store_true", help="leave out images whose output file already exists")
    r.add_argument("--steps", type=int, default=1, help="refinement passes (default 1)")
    r.add_argument("--strength", type=float, default=0.0, help="latent noise for alternative fills (default 0)")
    r.add_argument("--seed", type=int, default=0, help="seed of the latent noise (default 0)")
    engine_args(r)
    r.set_defaults(func=cmd_repair)

    v = sub.add_parser("vary", help="latent-noise variations of one image")
    v.add_argument("input", metavar="IMAGE", help="the photo to vary")
    v.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for the variants (<stem>_seed<N>.png)")
    v.add_argument("--strength", type=float, default=VARY_STRENGTH,
                   help=f"noise in standard deviations of the latent, 0 to 5 (default {VARY_STRENGTH:g})")
    v.add_argument("--count", type=int, default=4, help="how many variants, one per seed from --seed on (default 4)")
    v.add_argument("--seed", type=int, default=0, help="the first variant's seed (default 0)")
    engine_args(v)
    v.set_defaults(func=cmd_vary)

    a = sub.add_parser("augment", help="a reproducible augmented copy of a folder (keeps sub-folders)")
    a.add_argument("input", metavar="IN_DIR", help="a folder of images, e.g. one sub-folder per class (ImageFolder)")
    a.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                   help="where the copies go, in the same sub-folders, with manifest.csv and augment.json")
    a.add_argument("--per-image", type=int, default=4, help="augmented copies per image (default 4)")
    a.add_argument("--strength", type=float, default=VARY_STRENGTH,
                   help=f"latent noise strength, 0 to 5; 0 = classical only (default {VARY_STRENGTH:g})")
    a.add_argument("--seed", type=int, default=0, help="the run's seed: the same seed gives the same copies (default 0)")
    a.add_argument("--include-original", action="store_true", help="also write each original as PNG")
    a.add_argument("--hflip", type=float, default=0.5, help="horizontal flip probability")
    a.add_argument("--vflip", type=float, default=0.0, help="vertical flip probability")
    a.add_argument("--rotation", type=float, default=10.0, help="max rotation in degrees")
    a.add_argument("--crop", type=float, default=0.8, help="smallest crop as a fraction of the area")
    a.add_argument("--brightness", type=float, default=0.2, help="brightness jitter: a factor from 1-b to 1+b")
    a.add_argument("--contrast", type=float, default=0.2, help="contrast jitter: a factor from 1-c to 1+c")
    a.add_argument("--saturation", type=float, default=0.2, help="saturation jitter: a factor from 1-s to 1+s")
    engine_args(a)
    a.set_defaults(func=cmd_augment)

    d = sub.add_parser("damage", help="write a synthetically damaged copy and its mask")
    d.add_argument("input", metavar="IMAGE_OR_DIR", help="an image or a folder of images")
    d.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="folder for <stem>_damaged.png and <stem>_mask.png")
    d.add_argument("--kind", required=True, choices=DAMAGE_KINDS, help="the damage: hole kinds, Gaussian noise or a camera's noise")
    d.add_argument("--sigma", type=float, default=25.0, help="noise sigma on the 0..255 scale (kind noise)")
    d.add_argument("--seed", type=int, default=0, help="the damage's seed (default 0)")
    d.set_defaults(func=cmd_damage)

    i = sub.add_parser("info", help="what a checkpoint is, how it was trained, its recorded metrics")
    i.add_argument("checkpoint", nargs="?", default=None, help="a .safetensors checkpoint (default: the shipped one)")
    i.add_argument("--json", action="store_true", help="print the raw metadata as JSON")
    i.set_defaults(func=cmd_info)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with heap.batch_mode():  # one image after another: keep the heap's pages for the next
            return args.func(args)
    except UsageError as e:
        _fail(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _fail("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (`aeapp info | head`): stop quietly. Point stdout at devnull so
        # the interpreter's final flush does not raise again (Python's documented recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
