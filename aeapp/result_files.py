"""Files a server hands out: each written under a fresh name in a private folder, removed
once older than a limit.

Gradio saves an array output to a path named by its content without an atomic rename, so
two identical answers at once can serve a half-written file; a file the app wrote itself
Gradio copies atomically. Nothing is ever written to a fixed, shared path.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from . import image_io


class ResultFiles:
    """A private folder of results; `png` writes an image there and returns its path."""

    def __init__(self, folder: str | Path | None = None, max_age_s: float = 3600, sweep_every_s: float = 60):
        self.folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="aeapp-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_age_s = max_age_s
        self.sweep_every_s = sweep_every_s
        self.last_sweep = 0.0

    def path(self, suffix: str) -> Path:
        """A new, unique path in the folder. Results older than `max_age_s` (files, and the
        folders `png` makes) are removed, in a sweep at most every `sweep_every_s` rather than
        on every result a request writes."""
        now = time.time()
        if now - self.last_sweep > self.sweep_every_s:
            self.last_sweep = now
            for old in self.folder.iterdir():
                try:
                    if now - old.stat().st_mtime > self.max_age_s:
                        shutil.rmtree(old) if old.is_dir() else old.unlink()
                except OSError:
                    pass
        return self.folder / f"{uuid.uuid4().hex}{suffix}"

    def png(self, image: np.ndarray, stem: str = "aeapp", compress_level: int = 1,
            metadata: image_io.Metadata | None = None) -> str:
        """`image` as `<fresh folder>/<stem>.png` (the name users see when they download it),
        with the source photo's EXIF and ICC profile when given. Shown images use the fast PNG
        level; what users keep, the default (6)."""
        folder = self.path("")
        folder.mkdir()
        return str(image_io.save_image(image, folder / f"{stem}.png", png_compress_level=compress_level, metadata=metadata))
