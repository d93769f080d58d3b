import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from aeapp import checkpoint, cli
from aeapp.image_io import save_image
from train.losses import closest_noise, loss_fn, lr_at
from train.train import parse_args, train

from .conftest import make_photo

ROOT = Path(__file__).resolve().parent.parent
TINY_FLAGS = [
    "--model-unshuffle", "2", "--model-widths", "8", "16", "--model-encoder-blocks", "1", "1",
    "--model-decoder-blocks", "1", "1", "--model-global-blocks", "1", "--model-latent-channels", "4",
    "--noisy-skip-levels", "0", "--model-bottleneck-dilations", "1", "2",
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


def _args(data, out, steps, extra=(), task="fill"):
    return ["--task", task, "--data", str(data[0]), "--val-data", str(data[1]), "--out", str(out), "--steps", str(steps),
            "--batch-size", "2", "--crop", "32", "--val-images", "2", "--val-every", "4", "--save-every", "2",
            "--warmup-steps", "2", "--log-every", "1", *TINY_FLAGS, *extra]


def test_parse_args_fills_both_configs():
    cfg = parse_args(["--data", "photos", "--seed", "3", "--minutes", "1.5", *TINY_FLAGS, "--no-amp"])
    assert cfg.seed == 3 and cfg.minutes == 1.5 and cfg.amp is False
    assert cfg.model.widths == (8, 16) and cfg.model.stride == 4


def test_cosine_schedule_warms_up_and_decays():
    cfg = parse_args(["--data", "photos", "--lr", "1e-3", "--min-lr", "1e-5", "--warmup-steps", "10"])
    assert lr_at(0, 100, cfg) == pytest.approx(1e-4)
    assert lr_at(10, 100, cfg) == pytest.approx(1e-3)
    assert lr_at(100, 100, cfg) == pytest.approx(1e-5)


def test_short_run_saves_loadable_checkpoints_and_resumes(data, tmp_path):
    out = tmp_path / "run"
    with pytest.warns(UserWarning, match="corrupt.jpg"):
        result = train(parse_args(_args(data, out, 4)), argv=["--demo"])
    assert result["step"] == 4
    assert set(result["validation"]) == {"psnr_thin", "psnr_thick", "psnr_boxes", "psnr_scratches", "score"}
    for name in ("config.json", "state.pt", "last.safetensors", "best.safetensors"):
        assert (out / name).exists(), name
    assert len(list((out / "val" / "val").glob("*.input.png"))) == 8  # 2 images x 4 hole kinds, in the set's folder
    assert any((out / "tb").iterdir())
    models, info = checkpoint.load(out / "last.safetensors")
    assert models["fill"].config.widths == (8, 16) and info["steps"] == 4 and info["command"].endswith("--demo")
    assert info["task"] == "fill"
    assert json.loads((out / "config.json").read_text())["seed"] == 0
    ema_before = torch.load(out / "state.pt", weights_only=True)["ema"]

    # Same command with more steps: continues from step 4, not from scratch.
    result = train(parse_args(_args(data, out, 6)))
    assert result["step"] == 6
    state = torch.load(out / "state.pt", weights_only=True)
    assert state["step"] == 6
    assert any(not torch.equal(state["ema"][k], ema_before[k]) for k in ema_before)


def test_restore_task_trains_the_denoiser(data, tmp_path):
    result = train(parse_args(_args(data, tmp_path / "r", 3, ["--sigma-weight-offset", "10", "--crop-max", "48"], task="restore")))
    assert set(result["validation"]) == {"psnr_noise15", "psnr_noise25", "psnr_noise50", "score"}
    models, info = checkpoint.load(tmp_path / "r" / "last.safetensors")
    assert set(models) == {"restore"} and info["task"] == "restore"


def test_restore_with_a_noise_level_input_and_camera_like_noise_validates_on_every_set(data, tmp_path):
    other = tmp_path / "elsewhere"
    for i in range(3):
        save_image(make_photo(44, 52, seed=30 + i), other / f"{i}.png")
    argv = _args(data, tmp_path / "r", 2, ["--model-noise-level-input", "--realistic-noise-prob", "1"], task="restore")
    argv[argv.index("--val-data") + 1 : argv.index("--val-data") + 2] = [str(data[1]), f"{other}[1:3]"]
    result = train(parse_args(argv))
    assert set(result["validation"]) == {f"psnr_noise{s}{suffix}" for s in (15, 25, 50) for suffix in ("", "_elsewhere")} | {"score"}
    assert result["validation"]["score"] == pytest.approx(np.mean([v for k, v in result["validation"].items() if k != "score"]))
    assert len(list((tmp_path / "r" / "val" / "elsewhere").glob("*.input.png"))) == 6  # 2 images x 3 noise levels
    models, info = checkpoint.load(tmp_path / "r" / "last.safetensors")
    assert models["restore"].config.noise_level_input and info["val_data"] == [str(data[1]), f"{other}[1:3]"]


def test_a_noise_level_input_is_for_the_restore_network_only():
    with pytest.raises(SystemExit):
        parse_args(["--data", "photos", "--task", "fill", "--model-noise-level-input"])


def test_sample_weights_weight_the_loss_per_sample():
    cfg = parse_args(["--data", "photos"])
    gen = torch.Generator().manual_seed(0)
    pred, clean = torch.rand(3, 3, 16, 16, generator=gen), torch.rand(3, 3, 16, 16, generator=gen)
    ones = torch.ones(3, 1, 16, 16)
    plain, _ = loss_fn(pred, clean, ones, cfg)
    assert loss_fn(pred, clean, ones, cfg, torch.full((3,), 0.3))[0] == pytest.approx(plain.item())  # only relative weights count
    first_only, _ = loss_fn(pred, clean, ones, cfg, torch.tensor([1.0, 0.0, 0.0]))
    assert first_only.item() == pytest.approx(loss_fn(pred[:1], clean[:1], ones[:1], cfg)[0].item())


def test_psnr_loss_follows_the_mean_log_mse_and_skips_samples_without_holes():
    cfg = parse_args(["--data", "photos", "--pixel-loss", "psnr", "--fft-weight", "0"])
    gen = torch.Generator().manual_seed(0)
    clean = torch.rand(3, 3, 16, 16, generator=gen)
    error = torch.randn(3, 3, 16, 16, generator=gen) * torch.tensor([0.03, 0.3, 0.1]).view(3, 1, 1, 1)
    mask = torch.ones(3, 1, 16, 16)
    mask[2] = 0  # no holes: must not count
    pred = (clean + error).requires_grad_()
    loss, parts = loss_fn(pred, clean, mask, cfg)
    loss.backward()
    reference = pred.detach().clone().requires_grad_()
    mse = ((reference - clean) ** 2).flatten(1).mean(1)[:2]
    torch.log(mse + 1e-5).mean().backward()
    # Same direction as the mean log-MSE's gradient: each sample's weight is 1 / its MSE.
    cosine = torch.nn.functional.cosine_similarity(pred.grad.flatten(), reference.grad.flatten(), dim=0)
    assert cosine > 0.9999 and pred.grad[2].abs().max() == 0
    assert parts["psnr"] == pytest.approx(float((-10 * torch.log10(mse.detach())).mean()), abs=1e-3)
    # Balanced in dB: shrinking either sample's error by the same fraction (30 dB or 10 dB
    # now) lowers the loss by the same amount, where a plain MSE would favour the large one.
    along = [float((pred.grad[i] * error[i]).sum()) for i in (0, 1)]
    assert along[0] == pytest.approx(along[1], rel=0.02)


def test_bad_flags_are_one_line_errors(capsys):
    for argv, message in [
        (["--pixel-loss", "l2"], "invalid choice: 'l2'"),
        (["--task", "paint"], "invalid choice: 'paint'"),
        (["--model-widths", "32", "64", "--model-encoder-blocks", "1"], "one entry per width"),
        ([], "the following arguments are required: --data"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            parse_args(["--data", "photos", *argv] if argv else argv)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_mask_weights_set_the_odds_of_each_hole_kind():
    from aeapp import damage
    from train.data import damage_sample

    clean = make_photo(64, 64, seed=0)
    for kind, weights in [("boxes", ["0", "0", "1", "0"]), ("thin", ["1", "0", "0", "0"])]:
        cfg = parse_args(["--data", "photos", "--p-noisy-context", "0", "--mask-weights", *weights, *TINY_FLAGS])
        for seed in range(5):
            _, mask = damage_sample(clean, np.random.default_rng(seed), cfg, scale=1.0)
            expected_rng = np.random.default_rng(seed)
            expected_rng.random()  # the draw that decides whether the known pixels get noise
            only = {k: float(k == kind) for k in damage.MASK_KINDS}
            expected = damage.mixed_mask(64, 64, expected_rng, only, scale=1.0)
            if expected.all():
                expected[0, 0] = False
            assert np.array_equal(mask, expected), (kind, seed)


def test_crop_max_varies_the_crop_side_and_keeps_the_pixels_per_batch():
    from train.data import DamagedCrops

    cfg = parse_args(["--data", "photos", "--task", "restore", "--batch-size", "8", "--crop", "32", "--crop-max", "64", *TINY_FLAGS])
    photos = [(make_photo(80, 90, seed=i) * 255).astype("uint8") for i in range(3)]
    rng = np.random.default_rng(0)
    sides = set()
    for _ in range(30):
        clean, damaged, mask = DamagedCrops(photos, cfg).make_batch(rng)
        n, _, h, w = clean.shape
        assert h == w and h % cfg.model.stride == 0 and 32 <= h <= 64
        assert damaged.shape == clean.shape and mask.shape == (n, 1, h, w)
        assert abs(n * h * w - 8 * 32 * 32) <= 0.5 * h * w  # about constant pixels per step
        sides.add(h)
    assert len(sides) > 3


def test_init_from_fine_tunes_and_records_the_lineage(data, tmp_path, capsys):
    train(parse_args(_args(data, tmp_path / "base", 2, ["--val-every", "100"])))
    source, _ = checkpoint.load(tmp_path / "base" / "last.safetensors")
    extra = ["--val-every", "100", "--init-from", str(tmp_path / "base" / "last.safetensors"), "--seed", "1"]
    train(parse_args(_args(data, tmp_path / "ft", 1, [*extra, "--lr", "0", "--min-lr", "0"])))  # lr 0: weights kept
    tuned, info = checkpoint.load(tmp_path / "ft" / "last.safetensors")
    assert all(torch.equal(a, b) for a, b in zip(source["fill"].state_dict().values(), tuned["fill"].state_dict().values()))
    assert info["init_from"]["steps"] == 2 and info["init_from"]["path"].endswith("last.safetensors")
    train(parse_args(_args(data, tmp_path / "ft", 2, [*extra, "--lr", "0", "--min-lr", "0"])))  # resumed: lineage kept
    assert checkpoint.read_metadata(tmp_path / "ft" / "last.safetensors")[1]["init_from"]["steps"] == 2
    assert cli.main(["info", str(tmp_path / "ft" / "last.safetensors")]) == 0
    assert "fine-tuned from  " + str(tmp_path / "base" / "last.safetensors") + ": 2 steps" in capsys.readouterr().out

    # From a shipped file, which packs both networks: the lineage is that network's own record.
    shipped = tmp_path / "shipped.safetensors"
    checkpoint.save(shipped, {"fill": source["fill"]}, {"networks": {"fill": {"steps": 2, "command": "c"}}})
    train(parse_args(_args(data, tmp_path / "ft2", 1, ["--val-every", "100", "--init-from", str(shipped)])))
    assert checkpoint.read_metadata(tmp_path / "ft2" / "last.safetensors")[1]["init_from"] == {
        "path": str(shipped), "steps": 2, "command": "c"}

    other = [*extra, "--model-widths", "8", "24"]
    with pytest.raises(SystemExit, match="architecture differs"):
        train(parse_args(_args(data, tmp_path / "bad", 1, other)))

    # Adding a refinement head is the one change allowed: the rest is loaded, the head
    # starts as the identity. The other way round (dropping a trained head) is refused.
    train(parse_args(_args(data, tmp_path / "head", 1, [*extra, "--model-refine-channels", "4", "--lr", "0", "--min-lr", "0"])))
    headed, _ = checkpoint.load(tmp_path / "head" / "last.safetensors")
    state = headed["fill"].state_dict()
    assert headed["fill"].config.refine_channels == 4 and any(k.startswith("refine.") for k in state)
    assert all(torch.equal(v, state[k]) for k, v in source["fill"].state_dict().items())
    capsys.readouterr()
    assert cli.main(["info", str(tmp_path / "head" / "last.safetensors")]) == 0
    assert "full-resolution refinement head of 4 channels" in capsys.readouterr().out
    back = ["--val-every", "100", "--init-from", str(tmp_path / "head" / "last.safetensors")]
    with pytest.raises(SystemExit, match="architecture differs"):
        train(parse_args(_args(data, tmp_path / "bad2", 1, back)))

    # Widening a trained head: its units are kept, the new ones change nothing at the start.
    trained = headed["fill"]
    with torch.no_grad():  # a head that has learned something, so the test can see it kept
        for p in trained.refine.parameters():
            p.normal_(0, 0.1)
    checkpoint.save(tmp_path / "trained_head.safetensors", {"fill": trained}, {"networks": {"fill": {"steps": 1, "command": "c"}}})
    wide_args = ["--val-every", "100", "--init-from", str(tmp_path / "trained_head.safetensors"),
                 "--model-refine-channels", "6", "--lr", "0", "--min-lr", "0"]
    train(parse_args(_args(data, tmp_path / "wide", 1, wide_args)))
    wide = checkpoint.load(tmp_path / "wide" / "last.safetensors")[0]["fill"]
    assert wide.config.refine_channels == 6 and wide.refine[0].weight.shape[0] == 6
    assert torch.equal(wide.refine[0].weight[:4], trained.refine[0].weight)
    x, m = torch.rand(1, 3, 32, 32), (torch.rand(1, 1, 32, 32) > 0.7).float()
    with torch.no_grad():
        assert torch.allclose(wide.eval()(x, m), trained.eval()(x, m), atol=1e-6)
    narrow = ["--val-every", "100", "--init-from", str(tmp_path / "wide" / "last.safetensors"), "--model-refine-channels", "4"]
    with pytest.raises(SystemExit, match="architecture differs"):
        train(parse_args(_args(data, tmp_path / "bad3", 1, narrow)))

    # Global blocks appended after the source's start as the identity; fewer are refused.
    deeper_args = ["--val-every", "100", "--init-from", str(tmp_path / "trained_head.safetensors"),
                   "--model-refine-channels", "4", "--model-global-blocks", str(trained.config.global_blocks + 2),
                   "--lr", "0", "--min-lr", "0"]
    train(parse_args(_args(data, tmp_path / "deeper", 1, deeper_args)))
    deeper = checkpoint.load(tmp_path / "deeper" / "last.safetensors")[0]["fill"]
    assert len(deeper.global_blocks) == trained.config.global_blocks + 2
    with torch.no_grad():
        assert torch.allclose(deeper.eval()(x, m), trained.eval()(x, m), atol=1e-6)
    shallower = ["--val-every", "100", "--init-from", str(tmp_path / "deeper" / "last.safetensors"),
                 "--model-refine-channels", "4"]
    with pytest.raises(SystemExit, match="architecture differs"):
        train(parse_args(_args(data, tmp_path / "bad4", 1, shallower)))


def test_train_new_only_trains_the_appended_blocks_and_nothing_else(data, tmp_path):
    train(parse_args(_args(data, tmp_path / "base", 2, ["--val-every", "100"])))
    base = tmp_path / "base" / "last.safetensors"
    source = checkpoint.load(base)[0]["fill"]
    blocks = source.config.global_blocks
    extra = ["--val-every", "100", "--init-from", str(base), "--model-global-blocks", str(blocks + 1),
             "--train-new-only", "--lr", "1e-2", "--warmup-steps", "1"]
    train(parse_args(_args(data, tmp_path / "new", 3, extra)))
    grown = checkpoint.load(tmp_path / "new" / "last.safetensors")[0]["fill"].state_dict()
    assert all(torch.equal(v, grown[k]) for k, v in source.state_dict().items())  # frozen, EMA included
    assert grown[f"global_blocks.{blocks}.fuse.weight"].abs().sum() > 0  # the new block learned
    train(parse_args(_args(data, tmp_path / "new", 5, extra)))  # resumed: the same parameters frozen
    resumed = checkpoint.load(tmp_path / "new" / "last.safetensors")[0]["fill"].state_dict()
    assert all(torch.equal(v, resumed[k]) for k, v in source.state_dict().items())
    assert not torch.equal(resumed[f"global_blocks.{blocks}.fuse.weight"], grown[f"global_blocks.{blocks}.fuse.weight"])

    with pytest.raises(SystemExit, match="add nothing"):
        train(parse_args(_args(data, tmp_path / "same", 1, ["--init-from", str(base), "--train-new-only"])))
    with pytest.raises(SystemExit):
        parse_args(_args(data, tmp_path / "none", 1, ["--train-new-only"]))  # no --init-from: argparse's error


def test_closest_noise_keeps_each_samples_nearest_draw_and_none_for_plain_samples():
    from aeapp.config import InferenceConfig, ModelConfig
    from aeapp.model import ConvAutoencoder

    torch.manual_seed(0)
    model = ConvAutoencoder(ModelConfig(unshuffle=2, widths=(8, 16), encoder_blocks=(1, 1), decoder_blocks=(1, 1),
                                        global_blocks=1, latent_channels=4, bottleneck_dilations=(1, 2)),
                            InferenceConfig(noisy_skip_levels=(0,)))
    torch.nn.init.normal_(model.head.weight, std=0.1)  # the zero-initialised head would make every noise equal
    gen = torch.Generator().manual_seed(1)
    inputs, clean = torch.rand(3, 3, 16, 16, generator=gen), torch.rand(3, 3, 16, 16, generator=gen)
    mask = torch.ones(3, 1, 16, 16)
    strength = torch.tensor([2.0, 0.0, 2.0])
    chosen = closest_noise(model, inputs, mask, clean, mask, strength, 4, torch.Generator().manual_seed(5), amp=False)

    def errors(noise):
        with torch.no_grad():
            pred = model(inputs, mask, strength=strength, noise=noise)
        return ((pred - clean) ** 2).flatten(1).sum(1)

    assert all(t[1].abs().sum() == 0 for t in chosen)  # the plain sample gets no noise
    # Replay the four draws (each draws noise for the two noisy samples): the chosen one is the nearest.
    replay, latent = torch.Generator().manual_seed(5), model.encode(inputs[[0, 2]], mask[[0, 2]])
    draws = []
    for _ in range(4):
        eps = model.draw_latent_noise(latent, replay)
        draws.append([torch.stack([e[0], torch.zeros_like(e[0]), e[1]]) for e in eps])
    per_draw = torch.stack([errors(d) for d in draws])
    assert torch.allclose(errors(chosen)[[0, 2]], per_draw.min(0).values[[0, 2]])
    assert len({round(float(v), 6) for v in per_draw[:, 0]}) == 4  # the draws differ, so the choice meant something


def test_latent_noise_draws_trains(data, tmp_path):
    extra = ["--val-every", "100", "--latent-noise-prob", "1", "--latent-noise-max", "3", "--latent-noise-draws", "3"]
    assert train(parse_args(_args(data, tmp_path / "imle", 3, extra)))["step"] == 3
    with pytest.raises(SystemExit):
        parse_args(["--data", "photos", "--latent-noise-draws", "0"])


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
    _, info = checkpoint.load(out / "last.safetensors")
    assert info["world_size"] == 2 and info["steps"] == 3


KILLER = """
import os, signal, sys, runpy
import torch
mode, kill_at = sys.argv[1], int(sys.argv[2])
calls = {"n": 0}
real_replace, real_save = os.replace, torch.save

def replace(src, dst):
    if str(dst).endswith("state.pt"):
        calls["n"] += 1
        if mode == "before-rename" and calls["n"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst)

def save(obj, f, *a, **k):
    real_save(obj, f, *a, **k)
    if mode == "mid-write" and calls["n"] + 1 == kill_at:
        with open(f, "r+b") as fh:
            fh.truncate(os.path.getsize(f) // 2)
        os.kill(os.getpid(), signal.SIGKILL)

os.replace, torch.save = replace, save
sys.argv = ["train"] + sys.argv[3:]
runpy.run_module("train.train", run_name="__main__")
"""


@pytest.mark.parametrize("mode", ["before-rename", "mid-write"])
def test_sigkill_mid_save_resumes_from_the_last_complete_save(data, tmp_path, mode):
    out = tmp_path / "killed"
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    args = _args(data, out, 6, ["--save-every", "1", "--val-every", "100"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    killed = subprocess.run([sys.executable, str(script), mode, "3", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    state = torch.load(out / "state.pt", weights_only=True)  # intact: the last complete save
    assert state["step"] == 2
    checkpoint.load(out / "last.safetensors")
    saved_ema = state["ema"]

    resumed = subprocess.run([sys.executable, "-m", "train.train", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from" in resumed.stdout and "at step 2" in resumed.stdout
    assert not list(out.glob("*.tmp"))
    final = torch.load(out / "state.pt", weights_only=True)
    assert final["step"] == 6
    # The EMA went on from the saved one: three more updates with decay 0.999 move it a little.
    drift = max((final["ema"][k] - saved_ema[k]).abs().max().item() for k in saved_ema)
    assert 0 < drift < 0.05
