import threading

import numpy as np
import pytest
import torch

from aeapp import device as device_mod, engine as engine_mod, tiling
from aeapp.config import InferenceConfig
from aeapp.engine import Engine, get_engine

from .conftest import make_headed_model, make_hole, make_photo, make_tiny_model, make_tiny_networks


@pytest.mark.parametrize("h,w", [(40, 52), (17, 9), (1, 1), (3, 50), (1, 10000)])
def test_unmasked_pixels_are_exact_for_odd_sizes(engine, h, w):
    img = make_photo(h, w)
    mask = np.zeros((h, w), bool)
    mask[h // 2, w // 2] = True
    if h * w == 1:
        with pytest.raises(ValueError, match="covers the whole image"):
            engine.repair(img, mask)
        return
    out = engine.repair(img, mask)
    assert out.shape == img.shape and out.dtype == np.float32
    assert np.array_equal(out[~mask], img[~mask])
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_holes_are_filled_by_the_network_from_their_context(engine, photo):
    from aeapp.prefill import prefill

    mask = make_hole(photo.shape[:2])
    out = engine.repair(photo, mask)
    # Not the classical prefill the network starts from: the network changed it ...
    start = prefill(photo, mask, engine.inference["fill"].prefill)
    assert np.abs(out[mask] - start[mask]).mean() > 1e-3
    # ... and what it put there depends on the pixels around the hole, not on what was in it.
    assert np.array_equal(out, engine.repair(np.where(mask[..., None], 1.0 - photo, photo), mask))
    elsewhere = photo.copy()
    elsewhere[~mask] = photo[~mask][::-1]
    assert not np.array_equal(engine.repair(elsewhere, mask)[mask], out[mask])


def test_empty_mask_is_blind_restoration_of_the_whole_image(engine, photo):
    out = engine.repair(photo)
    assert out.shape == photo.shape
    assert np.abs(out - photo).mean() > 1e-4  # the tiny random model changes every pixel
    assert np.array_equal(out, engine.repair(photo, np.zeros(photo.shape[:2], bool)))


def test_full_mask_is_a_clear_error(engine, photo):
    with pytest.raises(ValueError, match="covers the whole image"):
        engine.repair(photo, np.ones(photo.shape[:2], bool))


def test_strength_zero_is_deterministic_and_ignores_seed(engine, photo):
    mask = make_hole(photo.shape[:2])
    a = engine.repair(photo, mask, strength=0.0, seed=1)
    b = engine.repair(photo, mask, strength=0.0, seed=2)
    assert np.array_equal(a, b)


def test_strength_gives_different_fills_per_seed_and_same_fill_per_seed(engine, photo):
    mask = make_hole(photo.shape[:2])
    a = engine.repair(photo, mask, strength=1.0, seed=1)
    b = engine.repair(photo, mask, strength=1.0, seed=1)
    c = engine.repair(photo, mask, strength=1.0, seed=2)
    assert np.array_equal(a, b)
    assert np.abs(a[mask] - c[mask]).mean() > 1e-3
    assert np.array_equal(a[~mask], photo[~mask]) and np.array_equal(c[~mask], photo[~mask])


def test_refinement_steps_run_and_keep_known_pixels(engine, photo):
    mask = make_hole(photo.shape[:2])
    one = engine.repair(photo, mask, steps=1)
    three = engine.repair(photo, mask, steps=3)
    assert np.array_equal(three[~mask], photo[~mask])
    assert not np.array_equal(one, three)  # later passes see the previous fill
    with pytest.raises(ValueError, match="steps must be between 1 and 16"):
        engine.repair(photo, mask, steps=0)


def test_bad_strength_is_refused(engine, photo):
    with pytest.raises(ValueError, match="strength"):
        engine.repair(photo, strength=-1)


def test_mask_of_another_size_is_refused(engine, photo):
    with pytest.raises(ValueError, match="the mask is"):
        engine.repair(photo, np.zeros((10, 10), bool))


def test_transparent_pixels_become_holes(engine, photo):
    rgba = np.dstack([photo, np.ones(photo.shape[:2], np.float32)])
    rgba[5:9, 5:9, 3] = 0.0
    out = engine.repair(rgba)
    expected = engine.repair(photo, make_hole(photo.shape[:2], (5, 9, 5, 9)))
    assert np.array_equal(out, expected)


def test_paths_and_uint8_arrays_are_accepted(engine, photo, tmp_path):
    from aeapp.image_io import save_image, to_uint8

    save_image(photo, tmp_path / "p.png")
    mask = make_hole(photo.shape[:2])
    save_image(mask, tmp_path / "m.png")
    from_files = engine.repair(tmp_path / "p.png", tmp_path / "m.png")
    from_arrays = engine.repair(to_uint8(photo), to_uint8(mask.astype(np.float32)))
    assert np.array_equal(from_files, from_arrays)


@pytest.mark.parametrize("tile", [2048, 48])
def test_refinement_head_on_hole_blocks_repairs_as_the_whole_image_head(monkeypatch, tile):
    from aeapp import model as model_mod

    engine = Engine({"fill": make_headed_model()}, torch.device("cpu"), torch.float32, tile=tile, overlap=8)
    big = make_photo(70, 130)
    mask = make_hole(big.shape[:2], (2, 12, 5, 30)) | make_hole(big.shape[:2], (60, 70, 100, 104))
    blocks = engine.repair(big, mask), engine.vary(big, 1.0, 2, seed=3, mask=mask)
    monkeypatch.setattr(model_mod, "HEAD_BLOCKS_MAX_SHARE", 2.0)  # never blocks: the whole image
    whole = engine.repair(big, mask), engine.vary(big, 1.0, 2, seed=3, mask=mask)
    np.testing.assert_allclose(blocks[0], whole[0], rtol=0, atol=1e-5)
    for a, b in zip(blocks[1], whole[1]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_large_images_are_tiles_blended_with_ramps_across_their_overlaps():
    big = make_photo(70, 90)
    tiled = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, tile=32, overlap=8)
    whole = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32)
    where = tiling.tiles(70, 90, tiled.tile, tiled.overlap, tiled.networks["restore"].config.stride)
    assert len(where) > 4
    steps = []
    out = tiled.repair(big, progress=lambda f, msg: steps.append(f))
    # Each tile repaired on its own, then averaged where tiles overlap with weights that fall
    # toward each tile's edge: exactly what the tiled repair gives.
    blend = tiling.Blend(70, 90, tiled.overlap)
    for sl in where:
        blend.add(sl, whole.repair(big[sl]))
    np.testing.assert_allclose(out, blend.result(), rtol=0, atol=1e-5)
    # In an overlap both neighbours count: the result lies strictly between them somewhere.
    a, b = whole.repair(big[where[0]]), whole.repair(big[where[1]])
    seam = slice(where[1][1].start, where[0][1].stop)
    left, right = a[:, seam.start - where[0][1].start :], b[:, : seam.stop - where[1][1].start]
    mixed = out[where[0][0], seam]
    assert ((mixed - np.minimum(left, right) > 1e-4) & (np.maximum(left, right) - mixed > 1e-4)).any()
    assert steps and steps[-1] == pytest.approx(1.0)


def test_tile_blending_adds_up_to_one():
    # An untrained model is the identity, so blended tiles must give the input back.
    from aeapp.model import ConvAutoencoder

    from .conftest import TINY

    identity = Engine({"restore": ConvAutoencoder(TINY)}, torch.device("cpu"), torch.float32, tile=32, overlap=8)
    big = make_photo(70, 90)
    assert np.allclose(identity.repair(big), big, atol=1e-5)


def test_tiles_without_holes_skip_the_fill_network(engine):
    tiled = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, tile=32, overlap=8)
    calls = []
    fill = tiled.networks["fill"]
    original = fill.encode
    fill.encode = lambda *a, **k: calls.append(1) or original(*a, **k)
    big = make_photo(70, 90)
    mask = make_hole(big.shape[:2], (2, 8, 2, 8))  # only in the first tile
    out = tiled.repair(big, mask)
    assert len(calls) == 1 and np.array_equal(out[~mask], big[~mask])


def test_fill_window_is_the_holes_box_with_context_clipped_to_the_image():
    mask = np.zeros((600, 800), bool)
    mask[300:310, 400:420] = True
    assert engine_mod._fill_window(mask) == (slice(172, 438), slice(272, 548))
    mask[0:50, 790:800] = True  # a second hole at the corner: one box around both
    assert engine_mod._fill_window(mask) == (slice(0, 600), slice(0, 800))
    big = np.zeros((600, 800), bool)
    big[100:400, 100:200] = True  # context as wide as the hole's longer side
    assert engine_mod._fill_window(big) == (slice(0, 600), slice(0, 500))


def test_the_fill_network_sees_only_the_window_around_the_holes(engine):
    seen = []
    fill = engine.networks["fill"]
    original = fill.encode
    fill.encode = lambda x, m, level=None: seen.append(tuple(x.shape[-2:])) or original(x, m, level)
    big = make_photo(600, 800)
    mask = make_hole(big.shape[:2], (300, 310, 400, 420))
    out = engine.repair(big, mask)
    variants = engine.vary(big, strength=1.0, count=2, seed=0, mask=mask)
    assert seen == [(268, 276)] * 2  # the 266 x 276 window, padded to the tiny model's stride of 4
    assert np.array_equal(out[~mask], big[~mask]) and not np.array_equal(out[mask], big[mask])
    assert all(np.array_equal(v[~mask], big[~mask]) for v in variants)
    assert not np.array_equal(variants[0][mask], variants[1][mask])


@pytest.mark.parametrize("method", ["telea", "telea_ns", "telea_ns_band"])
def test_prefill_in_the_window_equals_the_whole_images(method):
    from aeapp.prefill import prefill

    engine = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, inference={"fill": InferenceConfig(prefill=method, noisy_skip_levels=(0,))})
    assert engine.networks["fill"].inference.prefill == "telea"  # the override leaves the network as loaded
    big = make_photo(400, 500)
    mask = make_hole(big.shape[:2], (200, 230, 240, 250))
    assert engine_mod._fill_window(mask) != (slice(0, 400), slice(0, 500))
    assert np.array_equal(engine._first_fill(big, mask, engine_mod._fill_window(mask)), prefill(big, mask, method))


def test_blind_and_hole_repairs_use_different_networks(photo):
    only_fill = Engine({"fill": make_tiny_model(0)}, torch.device("cpu"), torch.float32)
    with pytest.raises(ValueError, match="no 'restore' network, so blind restoration"):
        only_fill.repair(photo)
    only_fill.repair(photo, make_hole(photo.shape[:2]))


def test_views_are_undone_exactly_for_every_rotation_and_mirror():
    a = np.arange(5 * 7 * 3, dtype=np.float32).reshape(5, 7, 3)
    seen = [tiling.view(a, v) for v in range(len(tiling.VIEWS))]
    assert len({s.tobytes() + bytes(s.shape) for s in seen}) == 8
    for v, s in enumerate(seen):
        assert np.array_equal(tiling.unview(s, v), a)


def test_restore_views_average_the_network_over_rotations(photo):
    one = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, restore_views=1)
    two = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, restore_views=2)
    turned = one.repair(photo[::-1, ::-1].copy())[::-1, ::-1]
    assert np.allclose(two.repair(photo), (one.repair(photo) + turned) / 2, atol=1e-6)
    assert not np.allclose(one.repair(photo), two.repair(photo), atol=1e-4)
    tiled = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, tile=32, overlap=8, restore_views=2)
    steps = []
    tiled.repair(photo, progress=lambda f, msg: steps.append((f, msg)))
    assert [f for f, _ in steps] == sorted(f for f, _ in steps) and steps[-1][0] == pytest.approx(1.0)
    assert any("view 2/2" in msg for _, msg in steps)


def test_restore_views_leave_fills_and_latent_noise_alone(photo):
    one = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, restore_views=1)
    four = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, restore_views=4)
    hole = make_hole(photo.shape[:2])
    assert np.array_equal(one.repair(photo, hole), four.repair(photo, hole))
    assert np.array_equal(one.repair(photo, strength=1.0, seed=3), four.repair(photo, strength=1.0, seed=3))
    assert np.array_equal(one.vary(photo, count=2)[1], four.vary(photo, count=2)[1])


@pytest.mark.parametrize("views", [0, 9])
def test_restore_views_out_of_range_are_refused(views):
    with pytest.raises(ValueError, match="restore_views must be between 1 and 8"):
        Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, restore_views=views)


def test_tile_weights_cover_every_pixel():
    for n in (33, 100, 4000):
        starts, size = tiling.layout(n, 32, 8, 4)
        assert size <= 32 and size % 4 == 0
        covered = np.zeros(n, bool)
        for s in starts:
            covered[s : s + size] = True
        assert covered.all() and starts[0] == 0 and starts[-1] == n - size
        assert max(b - a for a, b in zip(starts, starts[1:])) <= size - 8  # every seam overlaps enough
    # A 24 MP photo: 3 x 4 tiles of about 1424 x 1600, not 2048-pixel tiles overlapping by half.
    assert tiling.layout(4000, 2048, 128, 16) == ([0, 1288, 2576], 1424)
    assert tiling.layout(6000, 2048, 128, 16)[1] == 1600
    assert (tiling.ramp(32, 8) > 0).all()


def test_vary_gives_distinct_reproducible_variants(engine, photo):
    a = engine.vary(photo, strength=1.0, count=3, seed=10)
    b = engine.vary(photo, strength=1.0, count=3, seed=10)
    assert len(a) == 3 and all(v.shape == photo.shape for v in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert np.abs(a[0] - a[1]).mean() > 1e-3
    # Variant i is seed + i: the second of a run starting at 10 is the first of one at 11.
    assert np.array_equal(a[1], engine.vary(photo, strength=1.0, count=1, seed=11)[0])


def test_vary_with_a_mask_only_changes_holes(engine, photo):
    mask = make_hole(photo.shape[:2])
    for v in engine.vary(photo, strength=1.0, count=2, seed=0, mask=mask):
        assert np.array_equal(v[~mask], photo[~mask])


def test_vary_with_a_mask_gives_the_fills_repair_gives_for_each_seed(engine, photo):
    mask = make_hole(photo.shape[:2])
    fills = engine.vary(photo, strength=1.5, count=2, seed=5, mask=mask)
    for i, fill in enumerate(fills):
        assert np.array_equal(fill, engine.repair(photo, mask, strength=1.5, seed=5 + i))


def test_vary_count_is_checked(engine, photo):
    with pytest.raises(ValueError, match="count"):
        engine.vary(photo, count=0)


def test_encode_decode_matches_a_one_view_repair(photo):
    engine = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, restore_views=1)
    encoded = engine.encode(photo)
    assert encoded.size == photo.shape[:2] and encoded.network == "restore"
    assert np.allclose(engine.decode(encoded), engine.repair(photo), atol=1e-6)
    assert not np.array_equal(engine.decode(encoded, strength=1.0, seed=0), engine.decode(encoded))


def test_a_noise_level_network_is_told_the_same_level_on_every_path():
    """The level is estimated once, on the image as it is: padding to the network's stride
    (a side that is not a multiple of it) must not change what encode, vary and vary_batch
    tell the network, so they give what repair gives."""
    import dataclasses

    from aeapp.model import ConvAutoencoder

    from .conftest import TINY, TINY_INFERENCE

    torch.manual_seed(0)
    net = ConvAutoencoder(dataclasses.replace(TINY, noise_level_input=True), TINY_INFERENCE).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.15)
    engine = Engine({"restore": net}, torch.device("cpu"), torch.float32, restore_views=1)
    noisy = np.clip(make_photo(37, 50) + np.random.default_rng(0).normal(0, 0.1, (37, 50, 3)), 0, 1).astype(np.float32)
    repaired = engine.repair(noisy)
    encoded = engine.encode(noisy)
    assert encoded.noise_level == pytest.approx(engine_mod.estimate_sigma_array(noisy))
    np.testing.assert_allclose(engine.decode(encoded), repaired, rtol=0, atol=1e-6)
    np.testing.assert_allclose(engine.vary(noisy, strength=0.0, count=1)[0], repaired, rtol=0, atol=1e-6)
    batch = torch.from_numpy(noisy).permute(2, 0, 1)[None]
    np.testing.assert_allclose(engine.vary_batch(batch, 0.0)[0].permute(1, 2, 0).numpy(), repaired, rtol=0, atol=1e-5)


def test_concurrent_calls_match_sequential_ones(engine):
    images = [make_photo(24 + 4 * i, 30, seed=i) for i in range(6)]
    expected = [engine.repair(img, strength=0.5, seed=i) for i, img in enumerate(images)]
    results = [None] * len(images)

    def work(i):
        results[i] = engine.repair(images[i], strength=0.5, seed=i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, e) for r, e in zip(results, expected))


def test_extreme_inputs_give_finite_output(engine):
    for img in (np.zeros((16, 16, 3), np.float32), np.ones((16, 16, 3), np.float32),
                np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)):
        out = engine.repair(img, strength=2.0)
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_get_engine_caches_per_checkpoint_and_device(tiny_checkpoint, tmp_path):
    a = get_engine(tiny_checkpoint, device="cpu")
    b = get_engine(str(tiny_checkpoint), device="cpu")
    assert a is b
    assert a.dtype == device_mod.default_dtype(torch.device("cpu")) and a.device.type == "cpu"
    assert get_engine(tiny_checkpoint, device="cpu", dtype="float32").dtype == torch.float32


@pytest.mark.parametrize("native,expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_cpu_dtype_is_bfloat16_only_with_native_bfloat16(monkeypatch, native, expected):
    monkeypatch.setattr(device_mod, "cpu_has_native_bfloat16", lambda: native)
    assert device_mod.resolve("cpu") == (torch.device("cpu"), expected)
    assert device_mod.resolve("cpu", "float32")[1] == torch.float32
    # Training autocasts to bfloat16 on the same CPUs, and always on CUDA.
    assert device_mod.trains_in_bfloat16(torch.device("cpu")) is native
    assert device_mod.trains_in_bfloat16(torch.device("cuda")) is True


def test_unknown_device_is_a_clear_error(tiny_checkpoint):
    with pytest.raises(ValueError, match="unknown device"):
        get_engine(tiny_checkpoint, device="tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_asking_for_cuda_without_it_is_a_clear_error(tiny_checkpoint):
    with pytest.raises(ValueError, match="no CUDA device"):
        get_engine(tiny_checkpoint, device="cuda")


def test_shipped_weights_in_bfloat16_match_float32(photo):
    """bfloat16 is the CPU default where the CPU has it natively: the repair must be as good as float32's."""
    from aeapp import checkpoint, metrics

    bf16 = Engine(checkpoint.load(checkpoint.DEFAULT_CHECKPOINT)[0], torch.device("cpu"), torch.bfloat16)
    full = Engine(checkpoint.load(checkpoint.DEFAULT_CHECKPOINT)[0], torch.device("cpu"), torch.float32)
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 25 / 255, photo.shape), 0, 1).astype(np.float32)
    mask = make_hole(photo.shape[:2])
    for image, m, ref_mask in ((noisy, None, None), (photo, mask, mask)):
        a, b = bf16.repair(image, m), full.repair(image, m)
        assert np.isfinite(a).all() and np.abs(a - b).mean() < 0.01
        assert abs(metrics.psnr(photo, a, ref_mask) - metrics.psnr(photo, b, ref_mask)) < 0.1


def test_shipped_weights_in_half_precision_stay_finite_on_extreme_inputs(photo):
    """Overflow is a property of the weights and the values, not of the device: the shipped
    networks run in float16 on the CPU as they would on CUDA, on the inputs most likely to
    push activations out of half precision's range."""
    from aeapp import checkpoint

    networks, _ = checkpoint.load(checkpoint.DEFAULT_CHECKPOINT)
    half = Engine(networks, torch.device("cpu"), torch.float16)
    full = Engine(checkpoint.load(checkpoint.DEFAULT_CHECKPOINT)[0], torch.device("cpu"), torch.float32)
    noise = np.random.default_rng(0).random(photo.shape).astype(np.float32)
    mask = make_hole(photo.shape[:2])
    for extreme in (np.zeros_like(photo), np.ones_like(photo), noise, photo):
        for m in (mask, None):
            a, b = half.repair(extreme, m), full.repair(extreme, m)
            assert np.isfinite(a).all() and 0.0 <= a.min() and a.max() <= 1.0
            assert np.abs(a - b).mean() < 0.01


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_half_precision_on_cuda_is_finite_and_close_to_float32(tiny_model, photo):
    import copy

    networks = make_tiny_networks()
    full = Engine(copy.deepcopy(networks), torch.device("cpu"), torch.float32)
    half = Engine(networks, torch.device("cuda"), torch.float16)
    mask = make_hole(photo.shape[:2])
    for extreme in (photo, np.zeros_like(photo), np.ones_like(photo)):
        for m in (mask, None):
            a, b = half.repair(extreme, m), full.repair(extreme, m)
            assert np.isfinite(a).all()
            assert np.abs(a - b).max() < 0.05

