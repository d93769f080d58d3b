"""The app's end-to-end path in an environment built from requirements.txt alone.

Run by tests/test_runtime_env.py with the interpreter of such an environment (`.ci/run`
builds `.venv-runtime`); plain Python, no pytest, so nothing the test suite installs can
hide a missing runtime dependency. Exits 0 and prints "ok" when every step worked.

    .venv-runtime/bin/python tests/runtime_smoke.py
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Packages only the development requirements bring: if one is importable here, this is not
# a runtime-only environment and the check below proves nothing.
DEV_ONLY = ("pytest", "bm3d", "matplotlib", "pywt", "tensorboard")


def main() -> None:
    present = [name for name in DEV_ONLY if importlib.util.find_spec(name) is not None]
    if present:
        raise SystemExit(f"not a runtime-only environment: {', '.join(present)} importable")

    import numpy as np
    from PIL import Image

    import app
    from aeapp.image_io import save_image, to_uint8

    assert app.ENGINE is not None, app.LOAD_ERROR
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:128] / 128.0
    photo = to_uint8(np.clip(np.dstack([x, y, 0.5 + 0.3 * np.sin(8 * x)]) + rng.normal(0, 0.02, (96, 128, 3)), 0, 1))
    editor = {"background": np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)]), "layers": [], "composite": None}

    def as_uploaded(value):  # an editor value the app returned, as the browser sends it back
        return {"background": np.asarray(Image.open(value["background"]).convert("RGBA")),
                "layers": [np.asarray(Image.open(p).convert("RGBA")) for p in value["layers"]], "composite": None}

    # Every damage, then a repair with the classical comparison on: holes use the OpenCV
    # inpaintings, noise the OpenCV denoiser with its estimated sigma.
    for kind in ("thick", "noise", "camera"):
        value, state, *_ = app.damage_image(editor, kind, 25, 0, None)
        outputs = app.repair_image(as_uploaded(value), 1, 0.0, 0, False, True, state)
        report, gallery = outputs[2], outputs[3]
        assert "PSNR" in report and "OpenCV" in report, report
        assert len(gallery["value"]) >= 2, gallery
    # Nothing painted, compare on: blind restoration beside non-local means.
    outputs = app.repair_image(editor, 1, 0.0, 0, False, True, None)
    assert "non-local means" in outputs[2], outputs[2]

    gallery, _, zip_path = app.make_variations(photo, 2.0, 2, 0, True, False, 5, 0.9, 0.1, 0.1, 0.1)
    assert len(gallery) == 2 and Path(zip_path).stat().st_size > 0

    with tempfile.TemporaryDirectory() as tmp:
        path, mask_path = Path(tmp) / "photo.png", Path(tmp) / "mask.png"
        save_image(photo.astype(np.float32) / 255.0, path)
        mask = np.zeros(photo.shape[:2], bool)
        mask[30:50, 40:90] = True
        save_image(mask, mask_path)
        assert Path(app.api_repair(str(path), str(mask_path), 1, 0.0, 0)).exists()
        assert Path(app.api_repair(str(path), None, 1, 0.0, 0)).exists()
        assert len(app.api_vary(str(path), 2.0, 2, 0)) == 2
        assert all(Path(p).exists() for p in app.api_damage(str(path), "scratches", 25, 0))
        value, state, saved = app.upload_mask(editor, str(mask_path), None)
        assert Path(saved).exists() and value["layers"] == [] and state["mask"].any()
    print("ok")


if __name__ == "__main__":
    main()
