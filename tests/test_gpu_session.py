"""train/gpu_session.sh, rehearsed on the CPU on tiny data: a lent GPU's minutes must not go
to finding out that the script is broken."""

import json
import os
import re
import subprocess
from pathlib import Path

from aeapp import checkpoint
from aeapp.damage import MASK_KINDS, NOISE_LEVELS
from aeapp.image_io import save_image

from .conftest import make_photo

ROOT = Path(__file__).resolve().parent.parent


def test_gpu_session_script_trains_packs_judges_and_measures(tmp_path):
    train_dir, val_dir, out = tmp_path / "train", tmp_path / "val", tmp_path / "out"
    for i in range(3):
        save_image(make_photo(96, 128, seed=i), train_dir / f"{i}.png")
        save_image(make_photo(64, 64, seed=10 + i), val_dir / f"{i}.png")
    env = {**os.environ, "OUT": str(out), "MINUTES": "0.02", "WORKERS": "0", "BATCH": "2", "COMPARE_IMAGES": "1",
           "SEED": "99", "RUN": str(tmp_path / "run"), "DATA": str(train_dir), "VAL_DATA": str(val_dir), "OTHER_DATA": f"{train_dir}[0:1]",
           "GPU_CHECK": "--device cpu --sizes 256 --repeats 1 --train-seconds 0.2 --batch 2 --crop 32"}
    result = subprocess.run(["bash", "train/gpu_session.sh", "--val-images", "1"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert len(list(out.iterdir())) <= 8  # what the device tool brings back
    assert '"validation"' in (out / "train.log").read_text()
    networks, info = checkpoint.load(out / "candidate.safetensors")
    assert set(networks) == {"fill", "restore"} and networks["fill"].inference.prefill == "telea_ns_band"
    record = info["networks"]["fill"]
    assert record["seed"] == 99 and record["init_from"]["path"] == "checkpoints/aeapp-repair.safetensors"
    judged = (out / "compare.log").read_text()
    for task in MASK_KINDS + tuple(NOISE_LEVELS):  # every kind scored, paired, before the verdict
        assert re.search(rf"\b{task} +first [0-9.]+ +second [0-9.]+ +difference [+-][0-9.]+ dB \(se [0-9.]+\)", judged), task
    assert re.search(r"no_loss_beyond_two_se (True|False)", judged)
    assert re.search(r"^fill: ships (True|False)", judged, re.MULTILINE)
    assert json.loads((out / "gpu.json").read_text())["latency"][0]["finite"]
