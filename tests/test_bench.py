import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from aeapp.checkpoint import DEFAULT_CHECKPOINT, read_metadata
from aeapp.image_io import save_image
from bench import benchmark, gpu_check
from bench.common import damaged_inputs

from .conftest import make_photo


def test_damaged_inputs_are_reproducible_and_task_specific():
    images = [make_photo(40, 48, seed=i) for i in range(2)]
    a = damaged_inputs(images, "thick", 0)
    b = damaged_inputs(images, "thick", 0)
    c = damaged_inputs(images, "boxes", 0)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))
    noisy, mask = damaged_inputs(images, "noise50", 0)[0]
    assert not mask.any() and abs((noisy - images[0]).std() * 255 - 50) < 12  # clipping trims it


def test_benchmark_end_to_end_on_tiny_inputs(tmp_path, tiny_checkpoint, monkeypatch):
    data, other, tune = tmp_path / "data", tmp_path / "other", tmp_path / "tune"
    for i in range(2):
        save_image(make_photo(48, 64, seed=i), data / f"{i}.png")
    for i in range(3):
        save_image(make_photo(80, 96, seed=20 + i), other / f"{i}.png")
    save_image(make_photo(48, 64, seed=9), tune / "t.png")
    out = tmp_path / "out"
    argv = ["--data", str(data), f"{other}[1:3]", "--tune-data", str(tune), "--tune-images", "1",
            "--tasks", "thin", "noise25", "camera_high", "--bm3d-limit", "1", "--bm3d-crop", "64", "--latency", "512",
            "--repeats", "1", "--checkpoint", str(tiny_checkpoint), "--out", str(out)]
    results = benchmark.main(argv)
    assert [(s["name"], s["images"]) for s in results["sets"]] == [("data", 2), ("other", 2)]
    first = results["sets"][0]["tasks"]
    methods = {(r["task"], r["method"]) for r in first}
    assert {("thin", "aeapp"), ("thin", "OpenCV Telea"), ("thin", "OpenCV Navier-Stokes"), ("thin", "scikit-image biharmonic"),
            ("noise25", "aeapp"), ("noise25", "OpenCV NLM"), ("noise25", "scikit-image TV"), ("noise25", "BM3D"),
            ("camera_high", "aeapp"), ("camera_high", "OpenCV NLM"), ("camera_high", "scikit-image TV")} == methods
    assert {m for _, m in methods} - {"aeapp"} == set(benchmark.PEERS)  # the names --skip accepts
    assert results["tuned"]["camera_high"]["sigma"] > 0  # measured from the noise, not given
    bm3d = next(r for r in results["sets"][1]["tasks"] if r["method"] == "BM3D")
    assert bm3d["images"] == 1 and bm3d["crop"] == 64 and bm3d["aeapp_seconds_same_images"] > 0
    # On the crop, not on the whole 80x96 image: the megapixels say which.
    assert bm3d["megapixels_per_second"] * bm3d["seconds_median"] == pytest.approx(64 * 64 / 1e6, rel=1e-6)
    thin = first[0]
    assert "psnr_holes" in thin and thin["megapixels_per_second"] > 0
    assert json.loads((out / "results.json").read_text())["sets"][1]["data"] == f"{other}[1:3]"
    md = (out / "results.md").read_text()
    assert "| thin | **aeapp** |" in md and "### other (2 images" in md
    best_thin = max((r for r in first if r["task"] == "thin" and r["method"] != "aeapp"), key=lambda r: r["psnr_holes"])
    assert f"| thin | {thin['psnr_holes']:.2f} | {best_thin['method']} {best_thin['psnr_holes']:.2f} |" in md
    assert "| noise25, BM3D's images |" in md and "centre crops of at most 64x64" in md
    assert (out / "quality_vs_time.png").stat().st_size > 10_000
    assert results["latency"][0]["size"] == "512" and benchmark.peak_of(results["latency"][0]) > 0

    # A rerun on the same inputs takes BM3D's scores from the cache: BM3D is not called.
    cached = json.loads((out / "bm3d_scores.json").read_text())
    assert len(cached) == 2  # 2 sets x 1 Gaussian task x 1 image (a camera's noise has no sigma to give BM3D)
    monkeypatch.setattr(benchmark, "run_bm3d", lambda *a: pytest.fail("BM3D ran again"))
    again = benchmark.main(argv[:argv.index("--tasks") + 1] + ["noise25", "--bm3d-limit", "1", "--bm3d-crop", "64",
                                                                 "--latency", "512", "--repeats", "1",
                                                                 "--checkpoint", str(tiny_checkpoint), "--out", str(out)])
    rerun = next(r for r in again["sets"][1]["tasks"] if r["method"] == "BM3D")
    first_run = next(r for r in results["sets"][1]["tasks"] if r["method"] == "BM3D" and r["task"] == "noise25")
    assert rerun["psnr"] == first_run["psnr"]


def test_margins_put_the_sets_side_by_side():
    def rows(ours, peer, bm3d):
        return [{"task": "noise15", "method": "aeapp", "psnr": ours, "seconds_median": 0.1},
                {"task": "noise15", "method": "OpenCV NLM", "psnr": peer, "seconds_median": 0.2},
                {"task": "noise15", "method": "BM3D", "images": 10, "crop": 512, "psnr": bm3d, "seconds_median": 20.0,
                 "aeapp_psnr_same_images": ours + 0.1, "aeapp_seconds_same_images": 0.1}]
    results = {"sets": [{"name": "CBSD68", "tasks": rows(33.0, 30.0, 32.5)}, {"name": "Urban100", "tasks": rows(32.0, 29.5, 32.4)}]}
    table = benchmark.margins(results)
    assert table[0] == "| task | CBSD68: aeapp | best other | margin | Urban100: aeapp | best other | margin |"
    assert "| noise15 | 33.00 | OpenCV NLM 30.00 | +3.00 dB | 32.00 | OpenCV NLM 29.50 | +2.50 dB |" in table
    assert "| noise15, BM3D's images | 33.10 | BM3D 32.50 | +0.60 dB, 200x faster | 32.10 | BM3D 32.40 | -0.30 dB, 200x faster |" in table


def test_skip_refuses_a_name_that_is_not_a_peer(tmp_path, capsys):
    with pytest.raises(SystemExit):
        benchmark.main(["--data", str(tmp_path), "--skip", "OpenCV", "NLM"])
    assert "invalid choice: 'OpenCV'" in capsys.readouterr().err


def test_peak_rss_restarts_so_a_latency_row_shows_its_own_peak():
    from aeapp import heap

    with heap.keeping_freed_memory(0):  # an imported app keeps freed memory; this needs it handed back
        block = np.ones(64 * 2**20, np.uint8)  # 64 MiB, touched
        with_block = benchmark.peak_rss_mib()
        del block
        if not benchmark.reset_peak_rss():
            pytest.skip("no /proc/self/clear_refs: latency rows show the run's peak instead")
        assert benchmark.peak_rss_mib() < with_block - 48


def test_device_check_runs_on_the_cpu(tmp_path, tiny_checkpoint):
    result = gpu_check.main(["--device", "cpu", "--sizes", "256", "--repeats", "1", "--train-seconds", "0.5", "--batch", "2",
                             "--crop", "64", "--checkpoint", str(tiny_checkpoint), "--out", str(tmp_path / "gpu.json")])
    assert result["latency"][0]["finite"] and result["latency"][0]["seconds_median"] > 0
    assert result["training"]["steps"] >= 1


def test_load_script_checks_every_answer_against_its_reference(tmp_path):
    from bench import load_test

    result = load_test.main(["--clients", "2", "--requests", "4", "--rounds", "2", "--out", str(tmp_path / "load.json")])
    assert result["requests"] == 4 and result["requests_under_load"] == 8 and result["failures"] == 0 and result["mismatched_results"] == 0
    assert result["latency_p50_s"] > 0 and result["rss_after_load_mib"] > 0


def test_dtype_speed_script_times_and_scores_each_dtype(tmp_path, tiny_checkpoint):
    from bench import dtype_speed

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=5), data / "a.png")
    results = dtype_speed.main(["--data", str(data), "--images", "1", "--repeats", "1", "--checkpoint", str(tiny_checkpoint)])
    assert set(results) == {"float32", "bfloat16"}
    for rec in results.values():
        assert rec["fill_1mp_s"] > 0 and rec["restore_1mp_s"] > 0 and np.isfinite(rec["psnr_noise25"])


def test_published_tables_are_the_shipped_checkpoints_benchmark():
    """The README, the card and the checkpoint's metadata must report the same benchmark run."""
    root = Path(__file__).resolve().parent.parent
    results = json.loads((root / "bench" / "results" / "results.json").read_text())
    assert read_metadata(DEFAULT_CHECKPOINT)[1]["benchmark"] == results
    rows = benchmark.margins(results)
    for doc in ("README.md", "checkpoints/README.md", "bench/results/results.md"):
        text = (root / doc).read_text()
        assert [row for row in rows if row not in text] == [], doc


def test_plot_with_denoising_tasks_only(tmp_path):
    rows = [{"task": "noise15", "method": m, "images": n, "psnr": p, "ssim": 0.9, "seconds_median": s}
            for m, n, p, s in (("aeapp", 4, 33.0, 0.07), ("BM3D", 2, 33.2, 11.0))]
    rows[1]["crop"] = 512
    results = {"sets": [{"name": "CBSD68", "images": 4, "tasks": rows}], "machine": "test"}
    benchmark.plot(results, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 5_000


def test_compare_script_pairs_two_checkpoints_on_every_set(tmp_path, tiny_checkpoint):
    from aeapp import checkpoint
    from bench import compare

    from .conftest import make_tiny_model

    data = tmp_path / "data"
    for i in range(3):
        save_image(make_photo(48, 64, seed=9 + i), data / f"{i}.png")
    other = checkpoint.save(tmp_path / "other.safetensors", {"fill": make_tiny_model(5), "restore": make_tiny_model(1)})
    same = compare.main([str(tiny_checkpoint), str(tiny_checkpoint), "--data", str(data), f"{data}[1:3]", "--images", "2"])
    assert list(same["sets"]) == ["data", f"{data}[1:3]"]  # two slices of one folder, each scored
    scored = same["sets"][f"{data}[1:3]"]
    assert all(scored[t]["diff"] == 0 and scored[t]["se"] == 0 for t in ("thick", "boxes", "noise25", "camera_high"))
    assert not same["fill"]["ships"] and not same["restore"]["ships"]  # no gain: nothing to ship
    changed = compare.main([str(tiny_checkpoint), str(other), "--data", str(data), "--images", "2"])
    assert changed["sets"]["data"]["boxes"]["diff"] != 0  # another fill network: other holes' fills
    assert changed["sets"]["data"]["noise25"]["diff"] == 0  # the same restore network: the same denoising
    only_restore = compare.main([str(tiny_checkpoint), str(other), "--data", str(data), "--images", "1", "--networks", "restore"])
    assert "fill" not in only_restore and "thin" not in only_restore["sets"]["data"]


@pytest.mark.parametrize("diffs, ships", [
    ({"thin": 0.05, "thick": 0.02, "boxes": 0.01, "scratches": 0.0}, True),
    ({"thin": 0.05, "thick": 0.02, "boxes": -0.01, "scratches": 0.0}, False),  # boxes lose
    ({"thin": -0.20, "thick": 0.02, "boxes": 0.03, "scratches": 0.0}, False),  # the mean loses
    ({"thin": 0.30, "thick": -0.05, "boxes": 0.03, "scratches": 0.0}, False),  # thick: beyond 2 se
])
def test_fill_rule_needs_boxes_and_the_mean_to_gain_and_no_kind_to_lose_beyond_two_se(diffs, ships):
    from bench.compare import fill_rule

    assert fill_rule({k: {"diff": d, "se": 0.02} for k, d in diffs.items()})["ships"] is ships


@pytest.mark.parametrize("diffs, ships", [
    ((0.02, 0.01, 0.0, 0.5, 0.8), True),
    ((-0.08, -0.05, 0.0, 0.5, 0.8), True),  # a small cost on Gaussian noise for a gain on a camera's
    ((-0.15, 0.0, 0.0, 0.5, 0.8), False),  # sigma 15: beyond the tolerance
    ((0.01, 0.01, 0.01, -0.05, -0.05), False),  # the mean loses
])
def test_restore_rule_needs_the_mean_to_gain_and_no_task_to_lose_beyond_the_tolerance(diffs, ships):
    from bench.compare import NOISE_TASKS, restore_rule

    assert restore_rule({t: {"diff": d, "se": 0.001} for t, d in zip(NOISE_TASKS, diffs)})["ships"] is ships


def test_a_network_ships_only_where_it_passes_on_every_set(capsys):
    from bench.compare import NOISE_TASKS, verdict

    gains = {t: {"diff": 0.05, "se": 0.01} for t in NOISE_TASKS}
    loses = {t: {"diff": -0.2, "se": 0.01} for t in NOISE_TASKS}
    assert verdict("restore", {"CBSD432": gains, "Urban100": gains})["ships"]
    assert not verdict("restore", {"CBSD432": gains, "Urban100": loses})["ships"]
    assert "restore: ships False (fails on Urban100)" in capsys.readouterr().out


def test_latency_mask_is_a_box_of_a_quarter_of_the_height_by_a_third_of_the_width():
    mask = benchmark.latency_mask(120, 90)
    assert mask.sum() == 30 * 30 and mask[40, 30] and not mask[39, 30]  # a quarter of the height, a third of the width




def test_augment_benefit_trains_every_policy_on_the_same_seeds(tmp_path, tiny_checkpoint):
    from bench import augment_benefit

    for split in ("train", "val"):
        for c in range(2):
            for i in range(3):
                save_image(make_photo(40, 48, seed=10 * c + i), tmp_path / "data" / split / f"class{c}" / f"{i}.png")
    results = augment_benefit.main(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "out"), "--size", "16",
                                    "--epochs", "1", "--batch", "4", "--seeds", "0", "1", "--checkpoint", str(tiny_checkpoint),
                                    "--throughput-seconds", "0.2"])
    assert set(results["summary"]) == set(augment_benefit.POLICIES)
    assert all(len(results["runs"][p]) == 2 for p in augment_benefit.POLICIES)
    assert results["summary"]["classical"]["vs_classical"] == 0.0
    assert all(0 <= r["top1"] <= 100 and r["seconds_per_epoch"] > 0 for runs in results["runs"].values() for r in runs)
    assert results["throughput"]["latent_noise"] > 0 and results["throughput"]["classical"] > 0
    assert "| classical+latent |" in (tmp_path / "out" / "augment_benefit.md").read_text()
    assert (tmp_path / "out" / "augment_benefit.png").stat().st_size > 5_000


def test_the_same_seed_gives_every_policy_the_same_start_and_order(tmp_path):
    from bench import augment_benefit

    images = (torch.rand(6, 3, 18, 18) * 255).to(torch.uint8)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    none = augment_benefit.Policy("none", 16, None)
    a = augment_benefit.train_once(none, (images, labels), (images, labels), 3, 1, 3, 2)
    b = augment_benefit.train_once(none, (images, labels), (images, labels), 3, 1, 3, 2)
    assert a["top1"] == b["top1"]  # no augmentation draw: the same run twice


def test_session_memory_script_reports_what_sessions_hold():
    from bench import session_memory

    result = session_memory.main(["--sessions", "2", "--megapixels", "0.05"])
    assert len(result["rss_after_each_mib"]) == 2 and result["rss_start_mib"] > 0
    # Per session: uint8 images (the photo, its original, the last repair's input) and bool
    # masks of 0.05 MP, no float32 copy (which alone would be 0.6 MB).
    assert 0 < result["state_arrays_mib"] < 2 * 0.6


def test_noisy_photos_figure_restores_camera_noise_with_both_checkpoints(tmp_path, tiny_checkpoint):
    from bench import noisy_photos_figure

    photo = tmp_path / "p.png"
    save_image(make_photo(48, 64, seed=3), photo)
    out = tmp_path / "fig.png"
    scores = noisy_photos_figure.main(["--before", str(tiny_checkpoint), "--after", str(tiny_checkpoint), "--photos", str(photo),
                                       "--crop", "40", "--out", str(out)])
    assert [s["photo"] for s in scores] == ["p.png"] and scores[0]["before"] == scores[0]["after"]  # one network, one output
    assert cv2.imread(str(out)).shape == (40, 160, 3)  # noisy, before, after, original
