import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from aeapp.checkpoint import DEFAULT_CHECKPOINT, read_metadata
from aeapp.image_io import save_image
from bench import benchmark, gpu_check, report
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


def test_benchmark_end_to_end_on_tiny_inputs(tmp_path, tiny_checkpoint):
    from .matconvnet import write_tiny_peers

    data, other, tune = tmp_path / "data", tmp_path / "other", tmp_path / "tune"
    for i in range(2):
        save_image(make_photo(48, 64, seed=i), data / f"{i}.png")
    for i in range(3):
        save_image(make_photo(80, 96, seed=20 + i), other / f"{i}.png")
    save_image(make_photo(48, 64, seed=9), tune / "t.png")
    out = tmp_path / "out"
    argv = ["--data", str(data), f"{other}[1:3]", "--tune-data", str(tune), "--tune-images", "1",
            "--peers", str(write_tiny_peers(tmp_path / "peers")), "--tasks", "thin", "noise25", "camera_high",
            "--slow-limit", "1", "--slow-crop", "64", "--speed-side", "64", "--latency", "512", "--repeats", "1",
            "--checkpoint", str(tiny_checkpoint), "--out", str(out)]
    results = benchmark.main(argv)
    assert [(s["name"], s["images"]) for s in results["sets"]] == [("data", 2), ("other", 2)]
    first = results["sets"][0]["tasks"]
    methods = {(r["task"], r["method"]) for r in first}
    assert methods == {
        ("thin", "aeapp"), ("thin", "OpenCV Telea"), ("thin", "OpenCV Navier-Stokes"), ("thin", "scikit-image biharmonic"),
        ("thin", "OpenCV FSR fast"), ("thin", "OpenCV FSR best"),
        ("noise25", "aeapp"), ("noise25", "OpenCV NLM"), ("noise25", "scikit-image TV"), ("noise25", "BM3D"),
        ("noise25", "FFDNet (true sigma)"), ("noise25", "FFDNet (aeapp's estimate)"), ("noise25", "CDnCNN-B"),
        # A camera's noise has no true sigma: no BM3D and no FFDNet told it.
        ("camera_high", "aeapp"), ("camera_high", "OpenCV NLM"), ("camera_high", "scikit-image TV"),
        ("camera_high", "FFDNet (aeapp's estimate)"), ("camera_high", "CDnCNN-B")}
    assert {m for _, m in methods} - {"aeapp"} == set(benchmark.PEERS)  # the names --skip accepts
    assert {r["family"] for r in first if r["method"].startswith(("FFDNet", "CDnCNN"))} == {"learned"}
    assert results["tuned"]["camera_high"]["sigma"] > 0  # measured from the noise, not given
    bm3d = next(r for r in results["sets"][1]["tasks"] if r["method"] == "BM3D")
    assert bm3d["images"] == 1 and bm3d["crop"] == 64 and "aeapp_same_images" in bm3d
    # On the crop, not on the whole 80x96 image: the megapixels say which.
    assert bm3d["megapixels_per_second"] * bm3d["seconds_median"] == pytest.approx(64 * 64 / 1e6, rel=1e-6)
    # Every method timed in this run on the same photo, per task.
    speed = results["one_megapixel_seconds"]
    assert set(speed) == {"thin", "noise25"}  # one task per family
    assert set(speed["noise25"]) == {m for t, m in methods if t == "noise25"} and all(v > 0 for v in speed["thin"].values())
    assert json.loads((out / "results.json").read_text())["sets"][1]["data"] == f"{other}[1:3]"
    md = (out / "results.md").read_text()
    assert "### other (2 images" in md and "| Gaussian σ 25 |" in md and "| BM3D | 1 |" in md
    assert (out / "quality_vs_time.png").stat().st_size > 10_000
    assert results["latency"][0]["size"] == "512" and report.peak_of(results["latency"][0]) > 0


def test_runs_on_different_sets_merge_with_the_speed_of_the_one_that_measured_it(tmp_path, tiny_checkpoint):
    data, other, tune = tmp_path / "data", tmp_path / "other", tmp_path / "tune"
    save_image(make_photo(48, 64, seed=1), data / "a.png")
    save_image(make_photo(48, 64, seed=2), other / "b.png")
    save_image(make_photo(48, 64, seed=9), tune / "t.png")
    common = ["--tune-data", str(tune), "--tune-images", "1", "--tasks", "thick", "noise25", "--slow-limit", "0",
              "--speed-side", "64", "--latency", "512", "--repeats", "1", "--checkpoint", str(tiny_checkpoint)]
    a = benchmark.main(["--data", str(data), "--no-speed", "--out", str(tmp_path / "a"), *common])
    b = benchmark.main(["--data", str(other), "--out", str(tmp_path / "b"), *common])
    assert "one_megapixel_seconds" not in a and "latency" not in a
    merged = benchmark.main(["--merge", str(tmp_path / "a" / "results.json"), str(tmp_path / "b" / "results.json"),
                             "--out", str(tmp_path / "m")])
    assert [s["name"] for s in merged["sets"]] == ["data", "other"] and merged["sets"][0] == a["sets"][0]
    assert merged["one_megapixel_seconds"] == b["one_megapixel_seconds"] and merged["latency"] == b["latency"]
    assert json.loads((tmp_path / "m" / "results.json").read_text()) == merged
    with pytest.raises(SystemExit):  # the same set twice, both runs timed
        benchmark.main(["--merge", str(tmp_path / "b" / "results.json"), str(tmp_path / "b" / "results.json"), "--out", str(tmp_path / "x")])


def test_slow_methods_crop_around_the_holes_so_a_large_photo_keeps_some():
    clean = np.zeros((100, 300, 3), np.float32)
    mask = np.zeros((100, 300), bool)
    mask[40:50, 260:280] = True  # far from the centre: a centre crop of 64 would miss it
    c, x, m = benchmark.slow_crop(clean, clean + 1, mask, 64)
    assert c.shape == (64, 64, 3) and m.sum() == mask.sum() and np.all(x == 1)
    _, _, none = benchmark.slow_crop(clean, clean, np.zeros_like(mask), 64)
    assert none.shape == (64, 64)


def _results(ours: float, classical: float, learned: float) -> dict:
    def rows(shift):
        return [{"task": "noise15", "method": "aeapp", "family": "aeapp", "psnr": ours + shift},
                {"task": "noise15", "method": "OpenCV NLM", "family": "classical", "psnr": classical + shift},
                {"task": "noise15", "method": "BM3D", "family": "classical", "psnr": 40.0, "crop": 512, "images": 10,
                 "aeapp_same_images": 33.1},
                {"task": "noise15", "method": "FFDNet (true sigma)", "family": "learned", "psnr": learned + shift},
                {"task": "noise15", "method": "CDnCNN-B", "family": "learned", "psnr": learned - 0.3 + shift}]
    return {"sets": [{"name": "CBSD68", "tasks": rows(0.0)}, {"name": "Urban100", "tasks": rows(-1.0)}],
            "one_megapixel_seconds": {"noise25": {"aeapp": 0.2, "BM3D": 50.0, "CDnCNN-B": 2.0}}}


def test_the_summary_puts_aeapp_beside_the_best_classical_and_learned_methods_on_whole_images():
    table = report.summary_rows(_results(33.0, 30.0, 33.5))
    assert table[0] == ("| task | CBSD68: aeapp | best classical | best learned | Urban100: aeapp | best classical | "
                        "best learned |")
    # BM3D's 40 dB on its crops is not a whole-image figure: it stays out of this table.
    assert table[2] == ("| Gaussian σ 15 | 33.00 | OpenCV NLM 30.00 (+3.00) | FFDNet (true sigma) 33.50 (-0.50) | "
                        "32.00 | OpenCV NLM 29.00 (+3.00) | FFDNet (true sigma) 32.50 (-0.50) |")
    assert "| CBSD68 | Gaussian σ 15 | BM3D | 10 | 33.10 | 40.00 | -6.90 |" in report.slow_rows(_results(33.0, 30.0, 33.5))
    speed = report.speed_rows(_results(33.0, 30.0, 33.5))
    assert "| Gaussian σ 25 | BM3D | 50.00 | 250.0x |" in speed


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
    for doc, rows in (("README.md", report.summary_rows(results) + report.speed_rows(results)),
                      ("bench/results/results.md", report.summary_rows(results) + report.speed_rows(results)),
                      ("checkpoints/README.md", report.summary_rows(results))):
        text = (root / doc).read_text()
        assert [row for row in rows if row not in text] == [], doc


def test_plot_with_denoising_tasks_only(tmp_path):
    rows = [{"task": "noise15", "method": m, "images": n, "psnr": p, "ssim": 0.9, "seconds_median": s}
            for m, n, p, s in (("aeapp", 4, 33.0, 0.07), ("BM3D", 2, 33.2, 11.0))]
    rows[1]["crop"] = 512
    results = {"sets": [{"name": "CBSD68", "images": 4, "tasks": rows}], "machine": "test"}
    report.plot(results, tmp_path / "plot.png")
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
                                    "--stored", "24", "--epochs", "1", "--batch", "4", "--width", "4", "--seeds", "0", "1",
                                    "--checkpoint", str(tiny_checkpoint)])
    assert set(results["summary"]) == set(augment_benefit.POLICIES)
    assert results["evals"] == ["clean", "gaussian15", "gaussian25", "camera"]
    assert all(len(results["runs"][p]) == 2 for p in augment_benefit.POLICIES)
    classical = results["summary"]["classical"]["clean"]
    assert classical["vs_classical"] == 0.0 and classical["ci95"] == [0.0, 0.0]
    assert all(0 <= v <= 100 for runs in results["runs"].values() for r in runs for v in r["top1"].values())
    assert all(r["seconds_per_epoch"] >= r["augment_seconds_per_epoch"] > 0 for runs in results["runs"].values() for r in runs)
    latent = results["latent"]  # the Gaussian control has the PSNR the latent variants have
    assert latent["gaussian_sigma"] == pytest.approx(10 ** (-latent["psnr"] / 20))
    md = (tmp_path / "out" / "augment_benefit.md").read_text()
    assert "| classical+latent |" in md and "80% power" in md
    assert (tmp_path / "out" / "augment_benefit.png").stat().st_size > 5_000
    # Seeds run apart (one process per core) merge into the result one process would give.
    argv = ["--data", str(tmp_path / "data"), "--size", "16", "--stored", "24", "--epochs", "1", "--batch", "4", "--width", "4",
            "--checkpoint", str(tiny_checkpoint)]
    augment_benefit.main([*argv, "--seeds", "1", "--out", str(tmp_path / "b")])
    augment_benefit.main([*argv, "--seeds", "0", "--out", str(tmp_path / "a")])
    merged = augment_benefit.main(["--merge", str(tmp_path / "b" / "augment_benefit.json"),
                                   str(tmp_path / "a" / "augment_benefit.json"), "--out", str(tmp_path / "m")])
    assert merged["seeds"] == [0, 1]
    accuracy = lambda r: {p: {ev: v[ev] for ev in r["evals"]} for p, v in r["summary"].items()}  # noqa: E731 (timings differ)
    assert accuracy(merged) == accuracy(results)
    with pytest.raises(SystemExit):
        augment_benefit.main(["--merge", str(tmp_path / "a" / "augment_benefit.json"), str(tmp_path / "a" / "augment_benefit.json"),
                              "--out", str(tmp_path / "m")])


def test_the_same_seed_gives_every_policy_the_same_start_and_order():
    from bench import augment_benefit

    images = (torch.rand(6, 3, 18, 18) * 255).to(torch.uint8)
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    val = {"labels": labels, "images": {"clean": images}}
    none = augment_benefit.Policy("none", 16, images, labels)
    a = augment_benefit.train_once(none, val, 3, 1, 3, 2, 4)
    b = augment_benefit.train_once(none, val, 3, 1, 3, 2, 4)
    assert a["top1"] == b["top1"]  # no augmentation draw: the same run twice


def test_a_latent_cache_decodes_what_vary_batch_gives_and_moves_codes_toward_partners(tiny_checkpoint):
    from aeapp.transforms import LatentCache

    images = torch.stack([torch.from_numpy(make_photo(32, 48, seed=i)).permute(2, 0, 1) for i in range(4)])
    cache = LatentCache(images, strength=2.0, p=1.0, checkpoint=str(tiny_checkpoint), dtype="float32")
    engine = cache.engine
    torch.manual_seed(5)
    varied = cache(torch.tensor([2, 0]))
    torch.manual_seed(5)
    torch.rand(2)  # the cache's draw of which images vary
    seed = int(torch.randint(0, 2**31 - 1, ()))
    expected = engine.vary_batch(images[[2, 0]], 2.0, seed)
    assert torch.allclose(varied, expected, atol=1e-5)
    still = LatentCache(images, strength=0.0, p=1.0, checkpoint=str(tiny_checkpoint), dtype="float32")
    own, partner = still.mix(torch.tensor([1]), torch.tensor([3]), torch.tensor([0.0])), still.mix(torch.tensor([1]), torch.tensor([3]), torch.tensor([1.0]))
    assert torch.allclose(own, engine.vary_batch(images[[1]], 0.0), atol=1e-5)
    assert torch.allclose(partner, engine.vary_batch(images[[3]], 0.0), atol=1e-5)
    assert LatentCache(images, p=0.0, checkpoint=str(tiny_checkpoint))(torch.tensor([0, 1])).equal(images[:2])


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
