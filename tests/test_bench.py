import json
from pathlib import Path

import numpy as np
import pytest

from aeapp.checkpoint import DEFAULT_CHECKPOINT, read_metadata
from aeapp.image_io import save_image
from bench import benchmark, gpu_check

from .conftest import make_photo, make_tiny_networks


def test_damaged_inputs_are_reproducible_and_task_specific():
    images = [make_photo(40, 48, seed=i) for i in range(2)]
    a = benchmark.damaged_inputs(images, "thick", 0)
    b = benchmark.damaged_inputs(images, "thick", 0)
    c = benchmark.damaged_inputs(images, "boxes", 0)
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[1], y[1]) for x, y in zip(a, c))
    noisy, mask = benchmark.damaged_inputs(images, "noise50", 0)[0]
    assert not mask.any() and abs((noisy - images[0]).std() * 255 - 50) < 12  # clipping trims it


def test_benchmark_end_to_end_on_tiny_inputs(tmp_path, tiny_checkpoint):
    data, tune = tmp_path / "data", tmp_path / "tune"
    for i in range(2):
        save_image(make_photo(48, 64, seed=i), data / f"{i}.png")
    save_image(make_photo(48, 64, seed=9), tune / "t.png")
    out = tmp_path / "out"
    results = benchmark.main(["--data", str(data), "--tune-data", str(tune), "--tune-images", "1", "--tasks", "thin", "noise25",
                              "--bm3d-limit", "1", "--latency", "512", "--repeats", "1", "--checkpoint", str(tiny_checkpoint),
                              "--out", str(out)])
    methods = {(r["task"], r["method"]) for r in results["tasks"]}
    assert {("thin", "aeapp"), ("thin", "OpenCV Telea"), ("thin", "OpenCV Navier-Stokes"), ("thin", "scikit-image biharmonic"),
            ("noise25", "aeapp"), ("noise25", "OpenCV NLM"), ("noise25", "scikit-image TV"), ("noise25", "BM3D")} == methods
    assert {m for _, m in methods} - {"aeapp"} == set(benchmark.PEERS)  # the names --skip accepts
    bm3d = next(r for r in results["tasks"] if r["method"] == "BM3D")
    assert bm3d["images"] == 1 and "aeapp_psnr_same_images" in bm3d and bm3d["aeapp_seconds_same_images"] > 0
    thin = next(r for r in results["tasks"] if r == results["tasks"][0])
    assert "psnr_holes" in thin and thin["megapixels_per_second"] > 0
    assert json.loads((out / "results.json").read_text())["images"] == 2
    md = (out / "results.md").read_text()
    assert "| thin | **aeapp** |" in md
    best_thin = max((r for r in results["tasks"] if r["task"] == "thin" and r["method"] != "aeapp"), key=lambda r: r["psnr_holes"])
    assert f"| thin | {thin['psnr_holes']:.2f} | {best_thin['method']} {best_thin['psnr_holes']:.2f} |" in md
    assert "| noise25 (first 1 images) |" in md
    assert (out / "quality_vs_time.png").stat().st_size > 10_000
    assert results["latency"][0]["size"] == "512" and benchmark.peak_of(results["latency"][0]) > 0


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


def test_fill_options_script_reports_prefills_passes_and_diversity(tmp_path, tiny_checkpoint):
    from bench import fill_options

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=3), data / "a.png")
    results = fill_options.main(["--data", str(data), "--images", "1", "--checkpoint", str(tiny_checkpoint), "--strengths", "1"])
    assert set(results["peers"]) == {"telea", "ns"}
    assert set(results["prefills"]) == {"telea, 1 pass(es)", "telea, 2 pass(es)", "telea_ns, 1 pass(es)", "telea_ns, 2 pass(es)"}
    assert all(set(row) == {"thin", "thick", "boxes", "scratches"} for row in results["prefills"].values())
    div = results["diversity"][1.0]
    assert div["mean_abs_diff"] > 0  # a tiny random network still changes with the seed
    assert div["best_of_4_psnr"] >= div["mean_psnr"]
    assert results["plain_psnr"] > 0


def test_tile_size_script_compares_whole_images_with_tiles(tmp_path, tiny_checkpoint):
    from bench import tile_size

    data = tmp_path / "data"
    save_image(make_photo(40, 72, seed=4), data / "a.png")
    args = ["--checkpoint", str(tiny_checkpoint), "--val-data", str(data), "--images", "1", "--tiles", "16", "--overlap", "4"]
    restore = tile_size.main([*args, "--network", "restore", "--val-dir", str(tmp_path / "val")])
    assert set(restore["results"]) == {"whole", "tiles of 16"}
    assert set(restore["results"]["whole"]) == {"noise15", "noise25", "noise50"}
    assert len(list((tmp_path / "val").glob("*.input.png"))) == 3
    fill = tile_size.main([*args, "--network", "fill"])
    assert set(fill["results"]["tiles of 16"]) == {"thin", "thick", "boxes", "scratches"}


def test_variations_script_measures_each_level_set(tmp_path, tiny_checkpoint):
    from bench import variations

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=5), data / "a.png")
    results = variations.main(["--data", str(data), "--images", "1", "--checkpoint", str(tiny_checkpoint), "--levels",
                               "--levels", "0", "--strengths", "0", "1", "--save", str(tmp_path / "v")])
    assert set(results) == {"levels [], strength 0", "levels [], strength 1", "levels [0], strength 0", "levels [0], strength 1"}
    assert results["levels [0], strength 0"]["spread"] == 0.0  # strength 0 is deterministic
    assert results["levels [0], strength 1"]["spread"] > 0
    assert (tmp_path / "v" / "levels0_s1_a.png").exists()


def test_light_noise_script_reports_input_and_output_psnr(tmp_path, tiny_checkpoint):
    from bench import light_noise

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=6), data / "a.png")
    results = light_noise.main(["--data", str(data), "--images", "1", "--checkpoint", str(tiny_checkpoint), "--sigmas", "0", "10"])
    assert results[0.0]["input"] == float("inf") and np.isfinite(results[0.0]["output"])
    assert 20 < results[10.0]["input"] < 35


def test_dtype_speed_script_times_and_scores_each_dtype(tmp_path, tiny_checkpoint):
    from bench import dtype_speed

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=5), data / "a.png")
    results = dtype_speed.main(["--data", str(data), "--images", "1", "--repeats", "1", "--checkpoint", str(tiny_checkpoint)])
    assert set(results) == {"float32", "bfloat16"}
    for rec in results.values():
        assert rec["fill_1mp_s"] > 0 and rec["restore_1mp_s"] > 0 and np.isfinite(rec["psnr_noise25"])


def test_prefill_speed_script_times_each_prefill_against_the_first(tmp_path, tiny_checkpoint):
    from aeapp.checkpoint import load
    from bench import prefill_speed

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=5), data / "a.png")
    before = load(tiny_checkpoint)[0]["fill"].config.prefill
    results = prefill_speed.main(["--data", str(data), "--images", "1", "--repeats", "1", "--checkpoint", str(tiny_checkpoint)])
    assert set(results) == {"thin", "thick", "boxes", "scratches", "1 MP box"}
    for rec in results.values():
        assert set(rec) == {"telea_ns", "telea_ns_band"} and rec["telea_ns"]["ratio"] == 1.0
        assert all(r["seconds_median"] > 0 and r["megapixels_per_second"] > 0 for r in rec.values())
    from aeapp.engine import get_engine
    assert get_engine(str(tiny_checkpoint), device="cpu").network("fill").config.prefill == before  # put back


def test_ring_pull_script_scores_each_pull_against_the_first(tmp_path, tiny_checkpoint):
    from bench import ring_pull
    from bench.fill_options import KINDS

    data = tmp_path / "data"
    for i in range(2):
        save_image(make_photo(48, 64, seed=7 + i), data / f"{i}.png")
    results = ring_pull.main(["--data", str(data), "--images", "1", "--offset", "1", "--pulls", "0", "2",
                              "--checkpoint", str(tiny_checkpoint)])
    assert set(results) == {f"{kind}, pull {p}" for kind in KINDS for p in ("0", "2")}
    assert all(results[f"{kind}, pull 0"]["diff"] == 0.0 for kind in KINDS)
    assert all(np.isfinite(r["psnr"]) for r in results.values())
    # a pull moves the ring, so some hole kind scores differently
    assert any(results[f"{kind}, pull 2"]["diff"] != 0.0 for kind in KINDS)


def test_fill_window_script_compares_window_and_whole_image(tmp_path, tiny_checkpoint):
    from aeapp import engine as engine_mod
    from bench import fill_window

    data = tmp_path / "data"
    save_image(make_photo(160, 200, seed=6), data / "a.png")
    original = engine_mod._fill_window
    results = fill_window.main(["--data", str(data), "--images", "1", "--repeats", "1", "--size", "400", "300",
                                "--checkpoint", str(tiny_checkpoint)])
    assert engine_mod._fill_window is original  # the baseline put the window back
    assert set(results) == {"box", "stroke", "blemish_s"}
    assert all(np.isfinite(results[k]["window"]) and np.isfinite(results[k]["whole"]) for k in ("box", "stroke"))
    assert results["blemish_s"]["window"] > 0 and results["blemish_s"]["whole"] > 0


def test_self_ensemble_script_scores_and_times_each_view_count(tmp_path, tiny_checkpoint):
    from bench import self_ensemble

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=7), data / "a.png")
    results = self_ensemble.main(["--data", str(data), "--images", "1", "--views", "1", "2", "--repeats", "1", "--checkpoint", str(tiny_checkpoint)])
    assert set(results) == {1, 2}
    for rec in results.values():
        assert rec["restore_1mp_s"] > 0 and all(np.isfinite(rec[t]) for t in ("noise15", "noise25", "noise50"))
    assert results[1]["noise25"] != results[2]["noise25"]


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
    results = {"tasks": rows, "images": 4, "data": "CBSD68", "machine": "test"}
    benchmark.plot(results, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 5_000


def test_hole_edge_script_scores_each_ring_of_each_kind(tmp_path, tiny_checkpoint):
    from bench import hole_edge

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=3), data / "a.png")
    results = hole_edge.main(["--data", str(data), "--images", "1", "--checkpoint", str(tiny_checkpoint)])
    kinds = {key.split(",")[0] for key in results}
    assert kinds == {"thin", "thick", "boxes", "scratches"}
    for kind in kinds:
        shares = [row["share"] for key, row in results.items() if key.startswith(kind + ",")]
        assert abs(sum(shares) - 1) < 1e-6
    assert all(np.isfinite(row["aeapp"]) and np.isfinite(row["biharmonic"]) for row in results.values())


def test_weight_storage_script_compares_int8_with_float16_per_network(tmp_path, tiny_checkpoint):
    from bench import weight_storage

    data = tmp_path / "data"
    for i in range(2):
        save_image(make_photo(48, 64, seed=7 + i), data / f"{i}.png")
    results = weight_storage.main(["--data", str(data), "--images", "2", "--checkpoint", str(tiny_checkpoint)])
    assert results["size_mib"]["int8"] < 0.75 * results["size_mib"]["float16"]
    for task in ("thin", "thick", "boxes", "scratches", "noise15", "noise25", "noise50"):
        row = results[task]
        assert row["diff"] == pytest.approx(row["int8"] - row["float16"], abs=1e-9)
        assert abs(row["diff"]) < 1.0 and row["se"] >= 0  # 8 bits per weight: close, not equal


def test_compare_script_pairs_two_checkpoints_and_applies_the_fill_rule(tmp_path, tiny_checkpoint):
    from aeapp import checkpoint
    from bench import compare

    from .conftest import make_tiny_model

    data = tmp_path / "data"
    for i in range(2):
        save_image(make_photo(48, 64, seed=9 + i), data / f"{i}.png")
    other = checkpoint.save(tmp_path / "other.safetensors", {"fill": make_tiny_model(5), "restore": make_tiny_model(1)})
    same = compare.main([str(tiny_checkpoint), str(tiny_checkpoint), "--data", str(data), "--images", "2"])
    assert all(same[t]["diff"] == 0 and same[t]["se"] == 0 for t in ("thick", "boxes", "noise25"))
    assert not same["rule"]["ships"]  # no gain in boxes: nothing to ship
    changed = compare.main([str(tiny_checkpoint), str(other), "--data", str(data), "--images", "2"])
    assert changed["boxes"]["diff"] != 0  # another fill network: other holes' fills
    assert changed["noise25"]["diff"] == 0  # the same restore network: the same denoising


@pytest.mark.parametrize("diffs, ships", [
    ({"thin": 0.05, "thick": 0.02, "boxes": 0.01, "scratches": 0.0}, True),
    ({"thin": 0.05, "thick": 0.02, "boxes": -0.01, "scratches": 0.0}, False),  # boxes lose
    ({"thin": -0.20, "thick": 0.02, "boxes": 0.03, "scratches": 0.0}, False),  # the mean loses
    ({"thin": 0.30, "thick": -0.05, "boxes": 0.03, "scratches": 0.0}, False),  # thick: beyond 2 se
])
def test_fill_rule_needs_boxes_and_the_mean_to_gain_and_no_kind_to_lose_beyond_two_se(diffs, ships):
    from bench.compare import fill_rule

    assert fill_rule({k: {"diff": d, "se": 0.02} for k, d in diffs.items()})["ships"] is ships


def test_config_replaced_puts_the_network_config_back_even_after_an_error():
    from bench.benchmark import config_replaced, latency_mask

    fill = make_tiny_networks()["fill"]
    before = fill.config
    with pytest.raises(RuntimeError):
        with config_replaced(fill, prefill="telea_ns_band"):
            assert fill.config.prefill == "telea_ns_band" and fill.config.widths == before.widths
            raise RuntimeError("a failing measurement")
    assert fill.config is before
    mask = latency_mask(120, 90)
    assert mask.sum() == 30 * 30 and mask[40, 30] and not mask[39, 30]  # a quarter of the height, a third of the width


def test_refine_blocks_script_times_both_ways_and_finds_the_same_repairs(tmp_path, tiny_checkpoint):
    from aeapp import model
    from bench import refine_blocks

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=7), data / "a.png")
    share = model.HEAD_BLOCKS_MAX_SHARE
    results = refine_blocks.main(["--data", str(data), "--images", "1", "--repeats", "1", "--checkpoint", str(tiny_checkpoint)])
    assert model.HEAD_BLOCKS_MAX_SHARE == share  # put back
    assert set(results) == {"thin", "thick", "boxes", "scratches", "1 MP box", "1 MP thick"}
    for rec in results.values():
        assert rec["largest_difference"] == 0.0 and rec["whole image"]["ratio"] == 1.0
        assert rec["blocks"]["seconds_median"] > 0 and rec["blocks"]["megapixels_per_second"] > 0


def test_heap_policy_script_times_both_policies_and_puts_the_process_policy_back(tmp_path, tiny_checkpoint):
    from aeapp import heap
    from bench import heap_policy

    data = tmp_path / "data"
    save_image(make_photo(48, 64, seed=8), data / "a.png")
    before = heap._kept_mib
    results = heap_policy.main(["--data", str(data), "--images", "1", "--rounds", "1", "--checkpoint", str(tiny_checkpoint)])
    assert heap._kept_mib == before
    assert set(results) == {"thick strokes", "noise 25", "1 MP box"}
    for rec in results.values():
        assert rec["pass"]["ratio"] == 1.0 and rec["batch"]["seconds_median"] > 0


def test_loader_speed_script_rates_each_prefill_on_the_same_batches(tmp_path):
    from bench import loader_speed

    data = tmp_path / "data"
    save_image(make_photo(96, 128, seed=6), data / "a.png")
    results = loader_speed.main(["--data", str(data), "--batches", "2", "--batch-size", "2", "--crop", "32", "--crop-max", "64",
                                 "--prefills", "telea", "zeros"])
    assert set(results) == {"telea", "zeros"} and results["telea"]["ratio"] == 1.0
    assert all(r["megapixels_per_second"] > 0 for r in results.values())
