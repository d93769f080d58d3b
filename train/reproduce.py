"""Reproduce the shipped checkpoint: run the recipe's training stages in order, then pack.

    python -m train.reproduce --out runs/reproduce

Reads train/recipe.toml (`--recipe` for another). Each stage is a `train.train` run in
OUT/<stage>; a stage that has reached its steps is skipped and one that stopped part-way
resumes from its saved state, so the same command picks up where an interrupted one
stopped. When every stage is done, `train.ship` packs the two networks into
OUT/aeapp-repair.safetensors (the shipped file is never overwritten). Arguments after `--`
go to every stage, after the recipe's own (argparse keeps the last value of a flag), e.g.
`-- --workers 8` on a machine with cores to spare, or a tiny budget for a rehearsal:
`--steps 2 --batch-size 2 --crop 32 --crop-max 0 --val-images 1 -- --steps 1`.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from aeapp import checkpoint

RECIPE = Path(__file__).resolve().parent / "recipe.toml"


def load_recipe(path: Path = RECIPE) -> dict:
    """The recipe, checked: unique stage names, each `init` an earlier stage, and a ship
    section that names a stage of each network."""
    recipe = tomllib.loads(Path(path).read_text())
    seen: dict[str, str] = {}
    for stage in recipe["stage"]:
        if stage["name"] in seen:
            raise ValueError(f"{path}: stage {stage['name']!r} appears twice")
        if stage.get("init") and seen.get(stage["init"]) != stage["network"]:
            raise ValueError(f"{path}: stage {stage['name']!r} starts from {stage['init']!r}, "
                             f"which is not an earlier {stage['network']} stage")
        seen[stage["name"]] = stage["network"]
    for network in ("fill", "restore"):
        if seen.get(recipe["ship"][network]) != network:
            raise ValueError(f"{path}: [ship] {network} must name a {network} stage")
    return recipe


def steps_done(run: Path) -> int:
    """The step count of a stage's last saved weights (0 before its first save)."""
    last = run / "last.safetensors"
    return int(checkpoint.read_metadata(last)[1].get("steps", 0)) if last.exists() else 0


def stage_argv(recipe: dict, stage: dict, out: Path, data: str, val_data: list[str], steps: int, extra: list[str]) -> list[str]:
    argv = [*recipe["common"][stage["network"]], *stage["args"], "--data", data, "--val-data", *val_data,
            "--out", str(out / stage["name"]), "--steps", str(steps), "--minutes", "0"]
    if stage.get("init"):
        argv += ["--init-from", str(out / stage["init"] / "last.safetensors")]
    return argv + extra


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Arguments after -- go to every training stage.")
    p.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="folder of the stages' runs and the packed file")
    p.add_argument("--recipe", type=Path, default=RECIPE, help="the stages file (default: train/recipe.toml)")
    p.add_argument("--data", help="training images (default: the recipe's)")
    p.add_argument("--val-data", nargs="+", help="validation sets (default: the recipe's)")
    p.add_argument("--steps", type=int, default=0, help="cap every stage at this many steps (0: the recipe's; for a rehearsal)")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    raw = sys.argv[1:] if argv is None else list(argv)
    extra = raw[raw.index("--") + 1:] if "--" in raw else []
    args = p.parse_args(raw[: raw.index("--")] if "--" in raw else raw)
    recipe = load_recipe(args.recipe)
    data, val_data = args.data or recipe["data"], args.val_data or recipe["val_data"]
    val_data = [val_data] if isinstance(val_data, str) else list(val_data)

    from train import ship, train

    for i, stage in enumerate(recipe["stage"], 1):
        steps = min(stage["steps"], args.steps) if args.steps else stage["steps"]
        command = stage_argv(recipe, stage, args.out, data, val_data, steps, extra)
        done = steps_done(args.out / stage["name"])
        if done >= steps:
            print(f"[{i}/{len(recipe['stage'])}] {stage['name']}: done ({done} steps)", flush=True)
            continue
        print(f"[{i}/{len(recipe['stage'])}] {stage['name']}: python -m train.train {' '.join(command)}", flush=True)
        if not args.dry_run:
            train.main(command)
    packed = args.out / "aeapp-repair.safetensors"
    ship_argv = ["--fill", str(args.out / recipe["ship"]["fill"] / "last.safetensors"),
                 "--restore", str(args.out / recipe["ship"]["restore"] / "last.safetensors"),
                 "-o", str(packed), *recipe["ship"]["args"]]
    print(f"pack: python -m train.ship {' '.join(ship_argv)}", flush=True)
    if not args.dry_run:
        ship.main(ship_argv)
    return packed


if __name__ == "__main__":
    main()
