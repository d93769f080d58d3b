"""The ports of FFDNet and CDnCNN-B (bench/learned_peers.py), on tiny networks written in
the released files' layout: how weights are read and how FFDNet folds pixels. That the ports
reproduce the authors' CBSD68 figures is recorded in bench/results/learned_peers_check.json
(`python -m bench.learned_peers`), which needs the real weights."""

import numpy as np
import torch
import torch.nn.functional as F

from bench.learned_peers import LearnedPeers, depth_to_space, read_matconvnet, space_to_depth

from .matconvnet import write_network, write_tiny_peers


def test_ffdnets_fold_counts_a_blocks_four_pixels_column_major_within_each_colour():
    x = torch.arange(2 * 3 * 4 * 6, dtype=torch.float32).reshape(2, 3, 4, 6)
    y = space_to_depth(x)
    for c in range(3):
        for i in range(2):
            for j in range(2):
                assert torch.equal(y[:, 4 * c + i + 2 * j], x[:, c, i::2, j::2])
    assert torch.equal(depth_to_space(y), x)
    assert not torch.equal(y, F.pixel_unshuffle(x, 2))  # not torch's order


def test_a_matlab_filter_is_read_as_a_correlation_over_rows_then_columns(tmp_path):
    path = write_network(tmp_path / "one.mat", [{"type": "conv", "shape": (3, 3, 1, 1)}], seed=4)
    import h5py

    with h5py.File(path, "r") as f:
        group = f[f["net/layers"][0, 0]]
        matlab = f[group["weights"][0, 0]][()].T  # back to MATLAB's H x W x in x out
        bias = float(f[group["weights"][1, 0]][()].ravel()[0])
    layer = read_matconvnet(path)[0]
    image = np.random.default_rng(0).random((7, 9)).astype(np.float32)
    out = F.conv2d(torch.from_numpy(image)[None, None], layer["weight"], layer["bias"], padding=1)[0, 0].numpy()
    padded = np.pad(image, 1)
    expected = sum(matlab[dy, dx, 0, 0] * padded[dy : dy + 7, dx : dx + 9] for dy in range(3) for dx in range(3)) + bias
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_the_ports_take_any_size_and_ffdnet_is_told_the_level(tmp_path):
    peers = LearnedPeers(write_tiny_peers(tmp_path / "peers"))
    noisy = np.random.default_rng(1).random((9, 11, 3)).astype(np.float32)
    a, b = peers.run_ffdnet(noisy, 15), peers.run_ffdnet(noisy, 50)
    assert a.shape == noisy.shape and a.dtype == np.float32 and not np.allclose(a, b)
    body = peers.cdncnn.body(torch.from_numpy(noisy).permute(2, 0, 1)[None])[0].permute(1, 2, 0).detach().numpy()
    np.testing.assert_allclose(peers.run_cdncnn(noisy), np.clip(noisy - body, 0, 1), rtol=0, atol=1e-6)
