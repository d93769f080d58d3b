"""Deploy the app to a Hugging Face Space: exactly the files the Space runs, uploaded through
the Hub's API (which stores binaries through Xet, as the Hub requires).

    python -m aeapp.deploy --space OWNER/NAME --dry-run    # list and check, no network
    python -m aeapp.deploy --space OWNER/NAME              # upload (HF_TOKEN or `hf auth login`)

The Space's configuration is the README's front matter; the checks refuse to upload when it
would not build or would misstate the licence: `sdk` is gradio, `sdk_version` is the gradio
pinned in requirements.txt, `app_file` is one of the uploaded files, and the licence is
named (with `license: other`, `license_link` points to an uploaded file). Files on the
Space that this upload does not hold are deleted, so the Space mirrors the list.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What a Space needs to run the app and show its page, as globs relative to the repository.
SPACE_FILES = (
    "README.md", "LICENSE.md", ".gitattributes", "app.py", "requirements.txt",
    "aeapp/*.py", "checkpoints/aeapp-repair.safetensors", "checkpoints/README.md",
    "examples/*.png", "examples/LICENSE.md", "docs/*.png", "web/*.js",
)


class DeployError(ValueError):
    """The Space would not build or would misstate itself; the message says what to fix."""


def space_files(root: Path = ROOT) -> list[Path]:
    """The files to upload, relative to `root`, sorted; every pattern must match."""
    files: set[Path] = set()
    for pattern in SPACE_FILES:
        found = [p for p in root.glob(pattern) if p.is_file()]
        if not found:
            raise DeployError(f"nothing matches {pattern} in {root}; the Space needs it")
        files.update(p.relative_to(root) for p in found)
    return sorted(files, key=lambda p: p.as_posix())


def front_matter(readme: Path) -> dict[str, str]:
    """The README's YAML front matter as flat `key: value` strings (what a Space's
    configuration uses; no nesting)."""
    text = readme.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if not match:
        raise DeployError(f"{readme.name} has no front matter (--- ... ---): the Space reads its configuration there")
    out = {}
    for line in match.group(1).splitlines():
        if ":" in line and not line.startswith((" ", "#")):
            key, value = line.split(":", 1)
            out[key.strip()] = value.strip().strip('"')
    return out


def pinned_version(requirements: Path, package: str) -> str | None:
    for line in requirements.read_text().splitlines():
        m = re.match(rf"\s*{re.escape(package)}\s*==\s*([^\s;#]+)", line, re.I)
        if m:
            return m.group(1)
    return None


def check(root: Path, files: list[Path]) -> list[str]:
    """What is wrong with the Space's configuration (empty: nothing)."""
    meta = front_matter(root / "README.md")
    names = {p.as_posix() for p in files}
    problems = []
    if meta.get("sdk") != "gradio":
        problems.append(f"sdk is {meta.get('sdk')!r}; the app is a gradio app")
    pinned = pinned_version(root / "requirements.txt", "gradio")
    if meta.get("sdk_version") != pinned:
        problems.append(f"sdk_version is {meta.get('sdk_version')!r} but requirements.txt pins gradio=={pinned}")
    if meta.get("app_file") not in names:
        problems.append(f"app_file {meta.get('app_file')!r} is not among the uploaded files")
    licence = meta.get("license")
    if not licence:
        problems.append("no license: say what the code and the weights may be used for")
    elif licence == "other" and meta.get("license_link") not in names:
        problems.append(f"license is 'other' but license_link {meta.get('license_link')!r} is not an uploaded file")
    return problems


def _size(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m aeapp.deploy", description=__doc__.split("\n\n")[0])
    p.add_argument("--space", required=True, metavar="OWNER/NAME", help="the Space's repository id")
    p.add_argument("--dry-run", action="store_true", help="list the files with their sizes and run the checks; no network")
    p.add_argument("--private", action="store_true", help="create the Space private if it does not exist yet")
    p.add_argument("--root", type=Path, default=ROOT, help="the repository to deploy (default: this one)")
    args = p.parse_args(argv)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", args.space):
        p.error(f"--space must be OWNER/NAME, got {args.space!r}")
    try:
        files = space_files(args.root)
        problems = check(args.root, files)
    except DeployError as e:
        print(f"aeapp.deploy: error: {e}", file=sys.stderr)
        return 2
    total = 0
    for path in files:
        size = (args.root / path).stat().st_size
        total += size
        print(f"{_size(size):>10}  {path.as_posix()}")
    print(f"{_size(total):>10}  in {len(files)} files for {args.space}")
    meta = front_matter(args.root / "README.md")
    print(f"front matter: sdk {meta.get('sdk')} {meta.get('sdk_version')}, app_file {meta.get('app_file')}, "
          f"license {meta.get('license')}" + (f" ({meta.get('license_link')})" if meta.get("license_link") else ""))
    if problems:
        for problem in problems:
            print(f"aeapp.deploy: error: {problem}", file=sys.stderr)
        return 2
    print("checks passed")
    if args.dry_run:
        return 0
    return upload(args.space, args.root, files, args.private)


def upload(space: str, root: Path, files: list[Path], private: bool) -> int:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi()
    api.create_repo(space, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
    wanted = {p.as_posix() for p in files}
    stale = [f for f in api.list_repo_files(space, repo_type="space") if f not in wanted]
    operations = [CommitOperationAdd(path_in_repo=p.as_posix(), path_or_fileobj=str(root / p)) for p in files]
    operations += [CommitOperationDelete(path_in_repo=f) for f in stale]
    info = api.create_commit(space, operations, repo_type="space", commit_message="Deploy aeapp studio")
    print(f"uploaded {len(files)} files, deleted {len(stale)}: {info.commit_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
