"""A run's resumable state on disk (atomic writes) and what identifies the code that ran."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import torch


def save_state(path: Path, **state) -> None:
    """torch.save to a temporary file, then an atomic rename: a kill mid-save leaves the last
    complete state in place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_state(path: Path) -> dict | None:
    if not path.exists():
        return None
    # weights_only: plain tensors, numbers and strings; nothing arbitrary is unpickled.
    return torch.load(path, map_location="cpu", weights_only=True)


def rng_state() -> dict:
    # The data stream and the latent-noise strengths are seeded from the step; only the
    # global torch RNG (latent noise) carries state across steps.
    return {"torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])


def git_commit() -> str:
    """HEAD's hash, with "-dirty" when the working tree has uncommitted changes."""
    try:
        cwd = Path(__file__).parent
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=cwd).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                               timeout=5, cwd=cwd).stdout.strip()
        return head + ("-dirty" if head and dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""
