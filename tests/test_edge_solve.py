import numpy as np
import torch

from aeapp.edge_solve import _STENCIL, RING_PULL, blend_edge_band, edge_band, edge_ring, resolve_edges, solve_biharmonic
from aeapp.engine import Engine

from .conftest import make_hole, make_photo, make_tiny_networks


def test_the_ring_is_the_hole_pixels_touching_a_known_one():
    mask = make_hole((12, 12), (3, 9, 2, 10))
    ring = edge_ring(mask)
    assert ring[3, 5] and ring[8, 5] and ring[5, 2] and ring[5, 9]  # the four sides
    assert not ring[4:8, 3:9].any() and not ring[~mask].any()  # the inside, and no known pixel
    assert edge_ring(np.zeros((5, 5), bool)).sum() == 0


def test_the_ring_is_resolved_from_both_sides_and_nothing_else_moves():
    # A linear ramp is biharmonic: with wrong values on the ring and the right ones around
    # it (known outside, "network" inside), the solve recovers the ramp.
    yy, xx = np.mgrid[0:24, 0:30].astype(np.float32)
    truth = np.stack([0.2 + 0.02 * xx, 0.1 + 0.03 * yy, 0.5 + 0.01 * (xx - yy)], axis=-1)
    mask = make_hole((24, 30), (6, 18, 5, 22))
    ring = edge_ring(mask)
    filled = truth.copy()
    filled[ring] = 0.9
    out = resolve_edges(filled, mask, pull=0.0)
    assert np.abs(out[ring] - truth[ring]).max() < 1e-3
    assert np.array_equal(out[~ring], filled[~ring])
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1


def test_a_hole_covering_everything_or_nothing_is_left_alone():
    img = make_photo(10, 12)
    assert np.array_equal(resolve_edges(img, np.ones((10, 12), bool)), img)
    assert np.array_equal(resolve_edges(img, np.zeros((10, 12), bool)), img)


def test_the_engine_changes_only_the_ring_and_keeps_known_pixels():
    photo = make_photo(40, 52)
    mask = make_hole((40, 52), (10, 22, 12, 30))
    on = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32)
    off = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, edge_solve=False)
    a, b = on.repair(photo, mask), off.repair(photo, mask)
    ring = edge_ring(mask)
    assert np.array_equal(a[~mask], photo[~mask]) and np.array_equal(a[~ring], b[~ring])
    assert not np.allclose(a[ring], b[ring])
    variants = on.vary(photo, strength=1.0, count=2, seed=0, mask=mask)
    assert all(np.array_equal(v[~mask], photo[~mask]) for v in variants)


def test_the_solution_satisfies_the_discrete_biharmonic_equation():
    img = make_photo(40, 52)
    unknown = make_hole((40, 52), (10, 28, 8, 40)) & ~make_hole((40, 52), (13, 25, 11, 37))  # a ring, known inside
    out = solve_biharmonic(img, unknown).astype(np.float64)
    ys, xs = np.nonzero(unknown)
    residual = sum(w * out[ys + dy, xs + dx] for (dy, dx), w in _STENCIL)
    assert np.abs(residual).max() < 1e-4
    assert np.array_equal(out[~unknown], img[~unknown])


def test_a_pulled_solve_minimises_smoothness_plus_distance_to_the_fill():
    img = make_photo(40, 52)
    unknown = make_hole((40, 52), (10, 28, 8, 40)) & ~make_hole((40, 52), (13, 25, 11, 37))
    free = solve_biharmonic(img, unknown).astype(np.float64)
    pulled = solve_biharmonic(img, unknown, pull=RING_PULL).astype(np.float64)
    ys, xs = np.nonzero(unknown)
    residual = sum(w * pulled[ys + dy, xs + dx] for (dy, dx), w in _STENCIL) + RING_PULL * (pulled[ys, xs] - img[ys, xs])
    assert np.abs(residual).max() < 1e-4
    assert np.array_equal(pulled[~unknown], img[~unknown])
    # between the free solve and the values it is pulled to, closer to them the harder the pull
    gap = lambda out: np.abs(out[unknown] - img[unknown]).mean()  # noqa: E731
    firm = solve_biharmonic(img, unknown, pull=50.0).astype(np.float64)
    assert gap(firm) < gap(pulled) < gap(free)


def test_the_engine_pulls_the_ring_toward_the_network():
    photo = make_photo(40, 52)
    mask = make_hole((40, 52), (10, 22, 12, 30))
    on = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32)
    network = Engine(make_tiny_networks(), torch.device("cpu"), torch.float32, edge_solve=False).repair(photo, mask)
    assert np.allclose(on.repair(photo, mask), resolve_edges(network, mask, RING_PULL), atol=1e-5)
    assert not np.allclose(resolve_edges(network, mask, RING_PULL), resolve_edges(network, mask, 0.0), atol=1e-4)


def test_the_band_is_the_hole_pixels_near_a_known_one():
    mask = make_hole((40, 40), (5, 35, 5, 35))
    band = edge_band(mask, 3)
    assert band[5, 20] and band[7, 20] and not band[9, 20] and not band[20, 20]
    assert not band[~mask].any() and np.array_equal(edge_band(mask, 1), edge_ring(mask) & edge_band(mask, 1))
    assert not edge_band(np.ones((8, 8), bool), 3).any()  # no known pixel: no band


def test_the_band_moves_a_share_of_the_way_to_its_biharmonic_solve():
    yy, xx = np.mgrid[0:40, 0:44].astype(np.float32)
    ramp = np.stack([0.2 + 0.01 * xx, 0.1 + 0.015 * yy, 0.5 + 0.005 * (xx - yy)], axis=-1)
    mask = make_hole((40, 44), (6, 34, 5, 38))
    band = edge_band(mask, 6)
    filled = ramp.copy()
    filled[band] = 0.9  # wrong on the band; right beyond it, so the band solves to the ramp
    out = blend_edge_band(filled, mask, width=6, share=0.25)
    assert np.array_equal(out[~band], filled[~band])
    assert np.allclose(out[band], 0.75 * 0.9 + 0.25 * ramp[band], atol=1e-4)
    assert np.allclose(blend_edge_band(ramp, mask, width=6, share=0.25), ramp, atol=1e-4)  # already biharmonic
    assert out.dtype == np.float32


def test_the_band_blend_leaves_empty_and_full_masks_alone():
    img = make_photo(10, 12)
    assert blend_edge_band(img, np.zeros((10, 12), bool)) is img
    assert blend_edge_band(img, np.ones((10, 12), bool)) is img


def test_unknowns_at_the_image_edge_are_solved_with_the_edge_mirrored():
    img = make_photo(30, 34)
    unknown = make_hole((30, 34), (0, 8, 0, 10))  # the top-left corner: the stencil is mirrored
    out = solve_biharmonic(img, unknown).astype(np.float64)
    ys, xs = np.nonzero(unknown)

    def at(y, x):
        return out[np.abs(y), np.abs(x)]  # reflect about row 0 and column 0

    residual = sum(w * at(ys + dy, xs + dx) for (dy, dx), w in _STENCIL)
    assert np.abs(residual).max() < 1e-4 and np.isfinite(out).all()


def test_a_failed_fast_factorisation_falls_back_to_pivoting(monkeypatch):
    import aeapp.edge_solve as edge_solve

    img = make_photo(30, 34)
    unknown = make_hole((30, 34), (8, 20, 9, 25))
    expected = solve_biharmonic(img, unknown)
    real, calls = edge_solve.splu, []

    def zero_pivot_first(system, **options):
        calls.append(options)
        if options:  # the fast, unpivoted factorisation
            raise RuntimeError("Factor is exactly singular")
        return real(system)

    monkeypatch.setattr(edge_solve, "splu", zero_pivot_first)
    assert np.allclose(solve_biharmonic(img, unknown), expected, atol=1e-6)
    assert len(calls) == 2 and calls[1] == {}
