import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aeapp import cli
from aeapp.image_io import load_image, save_image

from .conftest import make_photo

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    save_image(make_photo(32, 40, seed=1), src / "a.png")
    save_image(make_photo(24, 36, seed=2), src / "sub" / "b.jpg")
    return src


def _mask(h, w):
    m = np.zeros((h, w), bool)
    m[4:10, 6:20] = True
    return m


def test_repair_folder_with_masks_paired_by_stem(folder, tmp_path, tiny_checkpoint):
    masks = tmp_path / "masks"
    save_image(_mask(32, 40), masks / "a.png")
    save_image(_mask(24, 36), masks / "b.png")
    out = tmp_path / "out"
    code = cli.main(["repair", str(folder), "--mask", str(masks), "-o", str(out), "--checkpoint", str(tiny_checkpoint)])
    assert code == 0
    a = load_image(out / "a.png")
    assert a.shape == (32, 40, 3)
    original = load_image(folder / "a.png")
    m = _mask(32, 40)
    assert np.array_equal(a[~m], original[~m]) and not np.array_equal(a[m], original[m])
    assert (out / "sub" / "b.jpg").exists()  # sub-folders are kept, and each image's format


def test_one_mask_for_a_whole_folder(tmp_path, tiny_checkpoint):
    src = tmp_path / "same"
    src.mkdir()
    for i in range(3):
        save_image(make_photo(32, 40, seed=i), src / f"{i}.png")
    save_image(_mask(32, 40), tmp_path / "watermark.png")
    out = tmp_path / "out"
    assert cli.main(["repair", str(src), "--mask", str(tmp_path / "watermark.png"), "-o", str(out), "--checkpoint", str(tiny_checkpoint)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png"]


def test_bad_file_in_a_folder_is_reported_and_the_rest_processed(folder, tmp_path, tiny_checkpoint, capsys):
    (folder / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    code = cli.main(["repair", str(folder), "-o", str(out), "--checkpoint", str(tiny_checkpoint)])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.png" in err and "Traceback" not in err
    assert (out / "a.png").exists() and (out / "sub" / "b.jpg").exists()


def test_missing_mask_for_one_image_fails_only_that_image(folder, tmp_path, tiny_checkpoint, capsys):
    masks = tmp_path / "masks"
    save_image(_mask(32, 40), masks / "a.png")
    out = tmp_path / "out"
    assert cli.main(["repair", str(folder), "--mask", str(masks), "-o", str(out), "--checkpoint", str(tiny_checkpoint)]) == 1
    assert "no mask named b.*" in capsys.readouterr().err
    assert (out / "a.png").exists()


def test_single_file_to_named_output(tmp_path, folder, tiny_checkpoint):
    out = tmp_path / "fixed.jpg"
    assert cli.main(["repair", str(folder / "a.png"), "-o", str(out), "--checkpoint", str(tiny_checkpoint)]) == 0
    assert load_image(out).shape == (32, 40, 3)


def test_dtype_can_be_chosen(tmp_path, folder, tiny_checkpoint):
    """float32 on any CPU (the reference), bfloat16 on any CPU (fast only where it is native)."""
    outs = []
    for dtype in ("float32", "bfloat16"):
        out = tmp_path / f"{dtype}.png"
        argv = ["repair", str(folder / "a.png"), "-o", str(out), "--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--dtype", dtype]
        assert cli.main(argv) == 0
        outs.append(load_image(out))
    assert np.abs(outs[0] - outs[1]).mean() < 0.02
    assert not np.array_equal(outs[0], outs[1])  # two precisions ran, not one twice


def test_vary_writes_count_variants(tmp_path, folder, tiny_checkpoint):
    out = tmp_path / "var"
    assert cli.main(["vary", str(folder / "a.png"), "-o", str(out), "--count", "3", "--seed", "5", "--strength", "1", "--checkpoint", str(tiny_checkpoint)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["a_seed5.png", "a_seed6.png", "a_seed7.png"]
    assert not np.array_equal(load_image(out / names[0]), load_image(out / names[1]))


def test_augment_is_reproducible_and_keeps_structure(tmp_path, folder, tiny_checkpoint):
    runs = []
    for name in ("one", "two"):
        out = tmp_path / name
        assert cli.main(["augment", str(folder), "-o", str(out), "--per-image", "2", "--strength", "0.5", "--seed", "3", "--checkpoint", str(tiny_checkpoint)]) == 0
        runs.append(out)
    files = sorted(p.relative_to(runs[0]).as_posix() for p in runs[0].rglob("*.png"))
    assert files == ["a_aug0.png", "a_aug1.png", "sub/b_aug0.png", "sub/b_aug1.png"]
    for f in files:
        assert np.array_equal(load_image(runs[0] / f), load_image(runs[1] / f))
    assert not np.array_equal(load_image(runs[0] / "a_aug0.png"), load_image(runs[0] / "a_aug1.png"))
    assert json.loads((runs[0] / "augment.json").read_text())["per_image"] == 2


def test_damage_writes_image_and_mask_reproducibly(tmp_path, folder):
    outs = []
    for name in ("x", "y"):
        out = tmp_path / name
        assert cli.main(["damage", str(folder / "a.png"), "-o", str(out), "--kind", "thick", "--seed", "1"]) == 0
        outs.append(out)
    mask = load_image(outs[0] / "a_mask.png")[..., 0] > 0.5
    damaged = load_image(outs[0] / "a_damaged.png")
    assert mask.any() and np.all(damaged[mask] == 0)
    assert np.array_equal(damaged, load_image(outs[1] / "a_damaged.png"))


def test_info_prints_the_recorded_metrics(tiny_checkpoint, capsys):
    assert cli.main(["info", str(tiny_checkpoint)]) == 0
    out = capsys.readouterr().out
    assert "network 'fill'" in out and "network 'restore'" in out and "widths [8, 16]" in out
    assert "validation psnr_thin" in out and "20.000" in out
    assert cli.main(["info", str(tiny_checkpoint), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["networks"]["fill"]["widths"] == [8, 16]


def test_info_prints_the_benchmark_recorded_in_the_checkpoint(tmp_path, capsys):
    from aeapp import checkpoint

    from .conftest import make_tiny_networks

    benchmark = {"command": "python -m bench.benchmark --data CBSD68", "machine": "2 cores", "sets": [
        {"name": "CBSD68", "images": 68, "tasks": [
            {"task": "thin", "method": "aeapp", "psnr": 37.9, "psnr_holes": 24.3, "ssim": 0.985},
            {"task": "thin", "method": "OpenCV Telea", "psnr": 36.0, "psnr_holes": 22.1, "ssim": 0.98},
            {"task": "noise25", "method": "aeapp", "psnr": 30.76, "ssim": 0.87}]}]}
    path = checkpoint.save(tmp_path / "b.safetensors", make_tiny_networks(), {"networks": {}, "benchmark": benchmark})
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "benchmark: python -m bench.benchmark --data CBSD68" in out and "CBSD68 (68 images)" in out
    assert "thin         PSNR 37.90 dB, in holes 24.30 dB" in out and "noise25      PSNR 30.76 dB" in out
    assert "Telea" not in out


@pytest.mark.parametrize("argv, message", [
    (["repair", "IMG", "-o", "x.gif"], "cannot write x.gif"),
    (["repair", "IMG", "-o", "OUT", "--quality", "0"], "--quality must be between 1 and 100, got 0"),
    (["repair", "IMG", "-o", "OUT", "--steps", "0"], "--steps must be between 1 and 16, got 0"),
    (["repair", "IMG", "-o", "OUT", "--strength", "9"], "--strength must be between 0 and 5, got 9"),
    (["vary", "IMG", "-o", "OUT", "--count", "0"], "--count must be between 1 and 64, got 0"),
    (["vary", "IMG", "-o", "OUT", "--strength", "9"], "--strength must be between 0 and 5, got 9"),
    (["augment", "DIR", "-o", "OUT", "--strength", "9"], "--strength must be between 0 and 5, got 9"),
])
def test_options_out_of_range_are_usage_errors_before_any_work(monkeypatch, tmp_path, folder, capsys, argv, message):
    def no_engine(args):
        raise AssertionError("the model was loaded for a command that cannot run")

    monkeypatch.setattr(cli, "_engine", no_engine)
    paths = {"IMG": str(folder / "a.png"), "DIR": str(folder), "OUT": str(tmp_path / "out"), "x.gif": str(tmp_path / "x.gif")}
    assert cli.main([paths.get(a, a) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "out").exists()


def test_info_into_a_closed_pipe_stops_without_a_traceback(tiny_checkpoint):
    proc = subprocess.Popen([sys.executable, "-m", "aeapp", "info", str(tiny_checkpoint)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head` exiting before aeapp writes
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1 and "Traceback" not in err and "BrokenPipe" not in err


def test_corrupt_checkpoint_is_one_line_and_exit_2(tmp_path, folder, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 100)
    code = cli.main(["repair", str(folder), "-o", str(tmp_path / "o"), "--checkpoint", str(bad)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("aeapp: error: checkpoint") and "bad.safetensors" in err and "\n" not in err


def test_missing_input_is_exit_2(tmp_path, capsys):
    assert cli.main(["damage", str(tmp_path / "nothing"), "-o", str(tmp_path), "--kind", "thin"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["repair", "vary", "augment", "damage", "info"])
def test_every_subcommand_has_help(command):
    result = subprocess.run([sys.executable, "-m", "aeapp", command, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "usage:" in result.stdout


def test_bad_arguments_exit_non_zero_without_traceback():
    result = subprocess.run([sys.executable, "-m", "aeapp", "damage", "x.png", "-o", "o", "--kind", "blobs"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2 and "invalid choice" in result.stderr and "Traceback" not in result.stderr


def test_augment_encodes_each_image_once_and_writes_a_manifest(tmp_path, folder, tiny_checkpoint, monkeypatch):
    import csv

    from aeapp.engine import Engine

    encodes = []
    original = Engine._encode_tensor
    monkeypatch.setattr(Engine, "_encode_tensor", lambda self, *a, **k: encodes.append(1) or original(self, *a, **k))
    out = tmp_path / "aug"
    assert cli.main(["augment", str(folder), "-o", str(out), "--per-image", "3", "--strength", "2", "--seed", "1",
                     "--include-original", "--checkpoint", str(tiny_checkpoint)]) == 0
    assert len(encodes) == 2  # two images, three copies each: one encode per image
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert len(rows) == 8 and {r["label"] for r in rows} == {".", "sub"}
    copies = [r for r in rows if r["source"] == "sub/b.jpg" and r["copy"] != "original"]
    assert [r["file"] for r in copies] == ["sub/b_aug0.png", "sub/b_aug1.png", "sub/b_aug2.png"]
    assert len({r["seed"] for r in copies}) == 3 and all(float(r["strength"]) == 2.0 for r in copies)
    assert all((out / r["file"]).exists() for r in rows)


def _photo_with_metadata(path):
    from PIL import Image, ImageCms

    pil = Image.fromarray((make_photo(32, 40) * 255).round().astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif[0x0132] = "2026:12:06 07:00:00"
    exif[0x0112] = 1
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pil.save(path, quality=95, exif=exif, icc_profile=icc)
    return icc


def test_exif_and_icc_profile_survive_a_repair(tmp_path, tiny_checkpoint):
    from PIL import Image

    icc = _photo_with_metadata(tmp_path / "photo.jpg")
    for name in ("fixed.jpg", "fixed.png", "fixed.webp"):
        assert cli.main(["repair", str(tmp_path / "photo.jpg"), "-o", str(tmp_path / name), "--checkpoint", str(tiny_checkpoint)]) == 0
        with Image.open(tmp_path / name) as out:
            exif = out.getexif()
            assert out.info.get("icc_profile") == icc, name
            assert exif[0x010F] == "Camera maker" and exif[0x0132] == "2026:12:06 07:00:00", name
            assert exif[0x0112] == 1 and exif.get_ifd(0x8825)[1] == "N", name


def test_several_inputs_standard_streams_quality_and_skip_existing(tmp_path, folder, tiny_checkpoint, capsysbinary):
    ck = ["--checkpoint", str(tiny_checkpoint)]
    one, two = tmp_path / "one.png", tmp_path / "two.jpg"
    save_image(make_photo(24, 32, seed=5), one)
    save_image(make_photo(24, 32, seed=6), two)
    out = tmp_path / "out"
    assert cli.main(["repair", str(one), str(two), str(folder), "-o", str(out), *ck]) == 0  # what a shell glob gives
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == ["a.png", "one.png", "sub/b.jpg", "two.jpg"]
    stamp = (out / "one.png").stat().st_mtime_ns
    capsysbinary.readouterr()
    assert cli.main(["repair", str(one), str(two), "-o", str(out), "--skip-existing", *ck]) == 0
    assert (out / "one.png").stat().st_mtime_ns == stamp and b"skipping 2 image(s)" in capsysbinary.readouterr().err
    small, large = tmp_path / "q10.jpg", tmp_path / "q95.jpg"
    assert cli.main(["repair", str(two), "-o", str(small), "--quality", "10", *ck]) == 0
    assert cli.main(["repair", str(two), "-o", str(large), *ck]) == 0
    assert small.stat().st_size < large.stat().st_size
    assert cli.main(["repair", str(one), str(two), "-o", str(tmp_path / "x.png"), *ck]) == 2  # several inputs, one file


def test_standard_input_to_standard_output(tmp_path, tiny_checkpoint, monkeypatch, capsysbinary):
    import io

    from PIL import Image

    save_image(make_photo(24, 32, seed=7), tmp_path / "in.png")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((tmp_path / "in.png").read_bytes())))
    assert cli.main(["repair", "-", "-o", "-", "--checkpoint", str(tiny_checkpoint)]) == 0
    with Image.open(io.BytesIO(capsysbinary.readouterr().out)) as png:
        assert png.format == "PNG" and png.size == (32, 24)


def test_every_option_has_help_and_the_version_is_printed(capsys):
    import argparse

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, sub in commands.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help text"
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("aeapp 0.")
