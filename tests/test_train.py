import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aeapp import checkpoint
from aeapp.image_io import save_image
from train.train import lr_at, parse_args, train

from .conftest import make_photo

ROOT = Path(__file__).resolve().parent.parent
TINY_FLAGS = [
    "--model-unshuffle", "2", "--model-widths", "8", "16", "--model-encoder-blocks", "1", "1",
    "--model-decoder-blocks", "1", "1", "--model-global-blocks", "1", "--model-latent-channels", "4",
    "--model-noisy-skip-levels", "0", "--model-bottleneck-dilations", "1", "2",
]


@pytest.fixture
def data(tmp_path):
    train_dir, val_dir = tmp_path / "train" / "nested", tmp_path / "val"
    for i in range(6):
        save_image(make_photo(48, 56, seed=i), train_dir / f"{i}.png")
    (train_dir / "corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    for i in range(2):
        save_image(make_photo(40, 40, seed=10 + i), val_dir / f"{i}.png")
    return tmp_path / "train", val_dir


def _args(data, out, steps, extra=()):
    return ["--data", str(data[0]), "--val-data", str(data[1]), "--out", str(out), "--steps", str(steps),
            "--batch-size", "2", "--crop", "32", "--val-images", "2", "--val-every", "4", "--save-every", "2",
            "--warmup-steps", "2", "--log-every", "1", *TINY_FLAGS, *extra]


def test_parse_args_fills_both_configs():
    cfg = parse_args(["--seed", "3", "--minutes", "1.5", *TINY_FLAGS, "--no-amp"])
    assert cfg.seed == 3 and cfg.minutes == 1.5 and cfg.amp is False
    assert cfg.model.widths == (8, 16) and cfg.model.stride == 4


def test_cosine_schedule_warms_up_and_decays():
    cfg = parse_args(["--lr", "1e-3", "--min-lr", "1e-5", "--warmup-steps", "10"])
    assert lr_at(0, 100, cfg) == pytest.approx(1e-4)
    assert lr_at(10, 100, cfg) == pytest.approx(1e-3)
    assert lr_at(100, 100, cfg) == pytest.approx(1e-5)


def test_short_run_saves_loadable_checkpoints_and_resumes(data, tmp_path):
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="corrupt.jpg"):
        result = train(parse_args(_args(data, out, 4)), argv=["--demo"])
    assert result["step"] == 4
    assert set(result["validation"]) >= {"psnr_thin", "psnr_noise25", "score"}
    for name in ("config.json", "state.pt", "last.safetensors", "best.safetensors"):
        assert (out / name).exists(), name
    assert len(list((out / "val").glob("*.input.png"))) == 12  # 2 images x 6 kinds
    assert any((out / "tb").iterdir())
    model, config, info = checkpoint.load(out / "last.safetensors")
    assert config.widths == (8, 16) and info["steps"] == 4 and info["command"].endswith("--demo")
    assert json.loads((out / "config.json").read_text())["seed"] == 0
    ema_before = torch.load(out / "state.pt", weights_only=True)["ema"]

    # Same command with more steps: continues from step 4, not from scratch.
    result = train(parse_args(_args(data, out, 6)))
    assert result["step"] == 6
    state = torch.load(out / "state.pt", weights_only=True)
    assert state["step"] == 6
    assert any(not torch.equal(state["ema"][k], ema_before[k]) for k in ema_before)


def test_same_seed_same_weights(data, tmp_path):
    a = train(parse_args(_args(data, tmp_path / "a", 3, ["--val-every", "100"])))
    b = train(parse_args(_args(data, tmp_path / "b", 3, ["--val-every", "100"])))
    assert a["step"] == b["step"] == 3
    wa = torch.load(tmp_path / "a" / "state.pt", weights_only=True)["model"]
    wb = torch.load(tmp_path / "b" / "state.pt", weights_only=True)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_empty_data_folder_is_a_clear_error(tmp_path, data):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no usable images"):
        train(parse_args(["--data", str(empty), "--val-data", str(data[1]), "--out", str(tmp_path / "r"), *TINY_FLAGS]))


def test_two_process_gloo_run(data, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "train.train", *_args(data, out, 3), "--device", "cpu"]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "world size 2" in result.stdout
    _, _, info = checkpoint.load(out / "last.safetensors")
    assert info["world_size"] == 2 and info["steps"] == 3
