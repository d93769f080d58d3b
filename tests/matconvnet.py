"""Tiny MatConvNet networks written as MATLAB v7.3 (HDF5) files, laid out as the peers'
released weights are (net/layers: references to structs with type, weights, scale), so the
benchmark's ports can be tested without the real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _text(value: str) -> np.ndarray:
    return np.array([[ord(c)] for c in value], np.uint16)


def write_network(path: Path, layers: list[dict], seed: int = 0) -> Path:
    """`layers`: {"type": "conv", "shape": (kh, kw, in, out)} (random weights) or
    {"type": name, "scale": s}."""
    import h5py

    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        refs = f.create_group("#refs#")
        table = f.create_group("net").create_dataset("layers", (len(layers), 1), dtype=h5py.ref_dtype)
        for i, layer in enumerate(layers):
            group = refs.create_group(f"layer{i}")
            group.create_dataset("type", data=_text(layer["type"]))
            if "scale" in layer:
                group.create_dataset("scale", data=np.array([[layer["scale"]]]))
            if layer["type"] == "conv":
                kh, kw, cin, cout = layer["shape"]
                # MATLAB's H x W x in x out, stored by HDF5 with the axes reversed.
                w = refs.create_dataset(f"w{i}", data=(rng.normal(0, 0.2, (kh, kw, cin, cout)).astype(np.float32)).T)
                b = refs.create_dataset(f"b{i}", data=rng.normal(0, 0.05, (1, cout)).astype(np.float32))
                weights = group.create_dataset("weights", (2, 1), dtype=h5py.ref_dtype)
                weights[0, 0], weights[1, 0] = w.ref, b.ref
            table[i, 0] = group.ref
    return path


def write_tiny_peers(folder: Path) -> Path:
    """A tiny FFDNet (down-shuffle, noise map, two convolutions, up-shuffle) and CDnCNN in
    `folder`, under the released files' names."""
    from bench.learned_peers import CDNCNN_FILE, FFDNET_FILE

    folder.mkdir(parents=True, exist_ok=True)
    write_network(folder / FFDNET_FILE, [{"type": "SubP", "scale": 0.5}, {"type": "concat"},
                                         {"type": "conv", "shape": (3, 3, 13, 8)}, {"type": "relu"},
                                         {"type": "conv", "shape": (3, 3, 8, 12)}, {"type": "SubP", "scale": 2.0}])
    write_network(folder / CDNCNN_FILE, [{"type": "conv", "shape": (3, 3, 3, 8)}, {"type": "relu"},
                                         {"type": "conv", "shape": (3, 3, 8, 3)}], seed=1)
    return folder
