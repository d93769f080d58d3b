"""Minimal ICC v2 profiles for tests: a grey one with a gamma curve and a CMYK one with a 2x2x2x2
lookup table, so that reading an image through its profile gives values a test can predict.
Written by hand because no such profiles ship with Python packages and none may be committed."""

from __future__ import annotations

import struct

import numpy as np

D50 = (0.9642, 1.0, 0.8249)


def _s15(x: float) -> bytes:
    return struct.pack(">i", round(x * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + b"\0" * 4 + _s15(x) + _s15(y) + _s15(z)


def _desc(text: str) -> bytes:
    ascii_ = text.encode() + b"\0"
    # textDescriptionType: ASCII, then empty Unicode and ScriptCode parts.
    return b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_)) + ascii_ + b"\0" * 8 + b"\0" * 3 + b"\0" * 67


def _text(text: str) -> bytes:
    return b"text" + b"\0" * 4 + text.encode() + b"\0"


def _profile(device_class: bytes, space: bytes, pcs: bytes, tags: dict[bytes, bytes]) -> bytes:
    entries, blobs, offset = [], b"", 128 + 4 + 12 * len(tags)
    for sig, data in tags.items():
        data += b"\0" * (-len(data) % 4)
        entries.append(struct.pack(">4sII", sig, offset + len(blobs), len(data)))
        blobs += data
    size = offset + len(blobs)
    header = struct.pack(">I4sI4s4s4s", size, b"lcms", 0x02100000, device_class, space, pcs)
    header += b"\0" * 12 + b"acsp" + b"APPL" + struct.pack(">I", 0) + b"\0" * 8 + b"\0" * 8 + struct.pack(">I", 0)
    header += _s15(D50[0]) + _s15(D50[1]) + _s15(D50[2]) + b"lcms" + b"\0" * 44
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + b"".join(entries) + blobs


def gray_profile(gamma: float) -> bytes:
    """A grey display profile whose tone curve is value ** gamma."""
    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, round(gamma * 256))
    return _profile(b"mntr", b"GRAY", b"XYZ ", {b"desc": _desc("test grey"), b"cprt": _text("none"),
                                                  b"wtpt": _xyz(*D50), b"kTRC": curve})


def _lab16(lab: np.ndarray) -> list[int]:
    """ICC v2 16-bit Lab encoding (lut16Type): L 0..100 -> 0..0xFF00, a and b -128..127.996."""
    L, a, b = lab
    return [round(L / 100 * 0xFF00), round((a + 128) * 256), round((b + 128) * 256)]


def cmyk_profile(corners: dict[tuple[int, int, int, int], tuple[float, float, float]]) -> bytes:
    """A CMYK input profile whose A2B0 table maps each corner of the CMYK cube (c, m, y, k in
    {0, 1}) to the given Lab colour, interpolated in between."""
    grid = 2
    table = b""
    for c in range(grid):
        for m in range(grid):
            for y in range(grid):
                for k in range(grid):
                    table += struct.pack(">3H", *_lab16(np.array(corners[(c, m, y, k)], float)))
    identity = b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lut = b"mft2" + b"\0" * 4 + struct.pack(">BBBB", 4, 3, grid, 0) + identity + struct.pack(">HH", 2, 2)
    lut += struct.pack(">2H", 0, 65535) * 4 + table + struct.pack(">2H", 0, 65535) * 3
    return _profile(b"prtr", b"CMYK", b"Lab ", {b"desc": _desc("test cmyk"), b"cprt": _text("none"),
                                                 b"wtpt": _xyz(*D50), b"A2B0": lut})
