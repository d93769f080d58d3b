import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from aeapp import image_io


def _bytes(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _rgb_pil(h=20, w=30) -> Image.Image:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)
    arr[..., 1] = 128
    arr[:5, :5] = [255, 0, 0]
    return Image.fromarray(arr)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"])
def test_common_formats_decode_to_float_rgb(fmt):
    out = image_io.load_image(_bytes(_rgb_pil(), fmt))
    assert out.shape == (20, 30, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out[2, 2, 0] > 0.8 and out[2, 2, 1] < 0.2  # the red corner survives every codec


def test_png_round_trip_is_exact(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (9, 11, 3)).astype(np.float32) / 255
    path = image_io.save_image(img, tmp_path / "x.png")
    assert np.array_equal(image_io.load_image(path), img)


def test_exif_orientation_is_applied():
    img = _rgb_pil(20, 30)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = image_io.load_image(_bytes(img, "JPEG", exif=exif, quality=95))
    assert out.shape == (30, 20, 3)
    assert out[2, -3, 0] > 0.8  # the red top-left corner is now at the top right


def test_grayscale_becomes_rgb():
    out = image_io.load_image(_bytes(Image.fromarray(np.full((5, 6), 200, np.uint8)), "PNG"))
    assert out.shape == (5, 6, 3)
    assert np.allclose(out, 200 / 255)


def test_16_bit_grayscale_is_scaled_not_clipped():
    arr = np.full((4, 4), 32768, np.uint16)
    out = image_io.load_image(_bytes(Image.fromarray(arr), "PNG"))
    assert np.allclose(out, 32768 / 65535, atol=1e-4)


def test_16_bit_rgb_png(tmp_path):
    arr = np.zeros((4, 5, 3), np.uint16)
    arr[..., 2] = 65535  # cv2 writes BGR: this is red
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), arr)
    out = image_io.load_image(path)
    assert out.shape == (4, 5, 3)
    assert np.allclose(out[..., 0], 1.0, atol=1 / 255) and np.allclose(out[..., 1:], 0.0, atol=1 / 255)


def test_cmyk_is_converted():
    out = image_io.load_image(_bytes(Image.new("CMYK", (6, 4), (0, 255, 255, 0)), "JPEG"))
    assert out.shape == (4, 6, 3)
    assert out[..., 0].mean() > 0.8 and out[..., 1].mean() < 0.3


def test_palette_with_transparency_gives_holes():
    img = Image.new("P", (6, 4), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 0)
    img.info["transparency"] = 0
    loaded = image_io.read_image(_bytes(img, "PNG", transparency=0))
    assert loaded.rgb.shape == (4, 6, 3)
    assert loaded.transparent is not None and loaded.transparent[0, 0] and loaded.transparent.sum() == 1


def test_rgba_fully_transparent_pixels_are_reported():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 3] = 255
    arr[1, 2, 3] = 0
    loaded = image_io.read_image(_bytes(Image.fromarray(arr, "RGBA"), "PNG"))
    assert loaded.transparent.sum() == 1 and loaded.transparent[1, 2]


def test_opaque_rgba_has_no_holes():
    arr = np.full((4, 4, 4), 255, np.uint8)
    assert image_io.read_image(_bytes(Image.fromarray(arr, "RGBA"), "PNG")).transparent is None


def test_animated_gif_takes_the_first_frame():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = _bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = image_io.load_image(data)
    assert out[..., 0].mean() > 0.9 and out[..., 2].mean() < 0.1


def test_one_pixel_and_thin_images_load():
    assert image_io.load_image(_bytes(Image.new("RGB", (1, 1)), "PNG")).shape == (1, 1, 3)
    assert image_io.load_image(_bytes(Image.new("RGB", (10000, 1)), "PNG")).shape == (1, 10000, 3)


def test_not_an_image_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("these are my notes, not a picture")
    with pytest.raises(ValueError, match="notes.png is not an image aeapp can read"):
        image_io.load_image(path)


def test_zero_byte_file_is_a_clear_error(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        image_io.load_image(path)
    with pytest.raises(ValueError, match="empty"):
        image_io.load_image(b"")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_a_clear_error(fmt):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _bytes(Image.fromarray(noise), fmt)
    with pytest.raises(ValueError, match="damaged or truncated|could not be read"):
        image_io.load_image(data[: len(data) // 2])


def _png_header_only(w: int, h: int) -> bytes:
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ValueError, match="too many pixels|megapixels"):
        image_io.load_image(_png_header_only(100_000, 100_000))


def test_pixel_limit_names_the_limit():
    with pytest.raises(ValueError, match="the limit is 1 megapixels"):
        image_io.load_image(_bytes(Image.new("RGB", (2000, 1000)), "PNG"), max_pixels=1_000_000)


def test_unsupported_format_is_refused():
    with pytest.raises(ValueError, match="use PNG, JPEG"):
        image_io.load_image(_bytes(Image.new("RGB", (4, 4)), "ICO"))


def test_arrays_of_every_dtype():
    assert np.allclose(image_io.load_image(np.full((2, 2, 3), 255, np.uint8)), 1.0)
    assert np.allclose(image_io.load_image(np.full((2, 2), 65535, np.uint16)), 1.0)
    assert np.allclose(image_io.load_image(np.full((2, 2, 3), 2.0, np.float64)), 1.0)
    with pytest.raises(ValueError, match="shape"):
        image_io.load_image(np.zeros((2, 2, 5), np.uint8))


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        image_io.load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="is a folder"):
        image_io.load_image(tmp_path)


def test_save_refuses_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="cannot write"):
        image_io.save_image(np.zeros((2, 2, 3), np.float32), tmp_path / "x.exe")


def test_list_images_is_recursive_and_sorted(tmp_path):
    (tmp_path / "b").mkdir()
    for name in ("b/2.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in image_io.list_images(tmp_path)] == ["a.jpg", "b/2.png"]


def test_metadata_is_read_with_orientation_reset_and_written_where_the_format_holds_it(tmp_path):
    img = _rgb_pil(20, 30)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Maker"
    loaded = image_io.read_image(_bytes(img, "JPEG", exif=exif, icc_profile=b"profile" * 20))
    assert loaded.rgb.shape == (30, 20, 3) and loaded.metadata.icc_profile == b"profile" * 20
    for suffix in (".png", ".jpg", ".webp", ".tif", ".bmp"):
        path = image_io.save_image(loaded.rgb, tmp_path / f"out{suffix}", metadata=loaded.metadata)
        with Image.open(path) as out:
            kept = suffix != ".bmp"
            assert (out.getexif().get(0x010F) == "Maker") is kept, suffix
            assert (out.getexif().get(0x0112) == 1) is kept, suffix
            assert (out.info.get("icc_profile") == b"profile" * 20) is kept, suffix
    assert image_io.read_image(_bytes(img, "PNG")).metadata == image_io.Metadata()


def test_cmyk_and_grey_photos_are_read_through_their_profiles_into_srgb_and_carry_none(tmp_path):
    from .icc import cmyk_profile, gray_profile

    # A linear grey profile: grey 128 is half the light, which sRGB writes as 188.
    grey = image_io.read_image(_bytes(Image.new("L", (4, 3), 128), "PNG", icc_profile=gray_profile(1.0)))
    assert np.allclose(grey.rgb * 255, 188, atol=2) and grey.metadata.icc_profile is None
    # A CMYK profile that prints cyan ink as red: read through the profile, not by formula.
    red, white, black = (53.2, 80.1, 67.2), (100, 0, 0), (0, 0, 0)
    corners = {(c, m, y, k): white if (c, m, y, k) == (0, 0, 0, 0) else red if (c, m, y, k) == (1, 0, 0, 0) else black
               for c in (0, 1) for m in (0, 1) for y in (0, 1) for k in (0, 1)}
    cmyk = image_io.read_image(_bytes(Image.new("CMYK", (4, 3), (255, 0, 0, 0)), "JPEG", icc_profile=cmyk_profile(corners),
                                      quality=100))
    assert np.allclose(cmyk.rgb[0, 0] * 255, (250, 0, 6), atol=8) and cmyk.metadata.icc_profile is None
    path = image_io.save_image(cmyk.rgb, tmp_path / "out.jpg", metadata=cmyk.metadata)
    with Image.open(path) as out:
        assert "icc_profile" not in out.info  # RGB output never claims a CMYK profile
    # A CMYK profile on RGB pixels does not fit them: dropped, never copied into the output.
    mismatched = image_io.read_image(_bytes(_rgb_pil(8, 6), "JPEG", icc_profile=cmyk_profile(corners)))
    assert mismatched.metadata.icc_profile is None


@pytest.mark.skipif(".heic" not in image_io.IMAGE_SUFFIXES, reason="pillow-heif is not installed")
def test_heic_photos_are_read(tmp_path):
    img = _rgb_pil(24, 32)
    img.save(tmp_path / "phone.heic")
    out = image_io.load_image(tmp_path / "phone.heic")
    assert out.shape == (24, 32, 3) and np.abs(out - np.asarray(img) / 255).mean() < 0.05
    assert tmp_path / "phone.heic" in image_io.list_images(tmp_path)


def test_messages_call_the_image_by_the_name_given(tmp_path):
    bad = tmp_path / "tmp123" / "upload.png"
    bad.parent.mkdir()
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="^upload.png is not an image"):
        image_io.read_image(bad, name="upload.png")


def test_an_image_set_is_a_folder_or_a_slice_of_its_sorted_images(tmp_path):
    for name in ("c.png", "a.png", "b.png"):
        (tmp_path / "set" / name).parent.mkdir(exist_ok=True)
        image_io.save_image(np.zeros((4, 4, 3), np.float32), tmp_path / "set" / name)
    folder = tmp_path / "set"
    assert [p.name for p in image_io.list_image_set(folder)] == ["a.png", "b.png", "c.png"]
    assert [p.name for p in image_io.list_image_set(f"{folder}[1:3]")] == ["b.png", "c.png"]
    assert [p.name for p in image_io.list_image_set(f"{folder}[:1]")] == ["a.png"]
    assert image_io.image_set_name(f"{folder}[1:3]") == "set"
    assert image_io.list_image_set(f"{folder}[5:9]") == []
