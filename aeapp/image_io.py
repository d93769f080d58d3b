"""Turn what users have into float32 RGB HxWx3 arrays in [0,1], and back into files.

Accepts paths, bytes, file objects, PIL images and numpy arrays. Applies the EXIF
orientation, flattens palette, grayscale, CMYK and 16-bit images to RGB (CMYK and grey through
their ICC profile to sRGB, where they carry one), keeps the alpha
channel apart (fully transparent pixels can become holes), takes the first frame of an
animation, and refuses decompression bombs, truncated files and non-images with a
ValueError whose message a user understands. Keeps what a photo says about itself (EXIF:
camera, date, place; the ICC colour profile) so that `save_image` can write it back: a
Display P3 or Adobe RGB photo then looks the same after a repair.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

try:  # phones' HEIC/HEIF photos, through pillow-heif when it is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    _HEIF = ("HEIF",)
except ImportError:
    _HEIF = ()

# Formats we promise to read. Pillow knows many more (PSD, ICO, EPS...) whose parsers are
# rarely exercised; refusing them keeps the attack surface small.
READ_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF", *_HEIF)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif") + ((".heic", ".heif") if _HEIF else ())
WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
DEFAULT_MAX_PIXELS = 50_000_000  # a 24 MP photo fits twice; a 100k x 100k bomb does not

ImageFile.LOAD_TRUNCATED_IMAGES = False
_ORIENTATION = 0x0112  # the EXIF tag; pixels are stored upright, so written back as 1
READABLE = "PNG, JPEG, WebP, BMP, TIFF, GIF" + (" or HEIC" if _HEIF else "")


@dataclass(frozen=True)
class Metadata:
    """What a photo says about itself, carried from input to output: its EXIF block
    (orientation reset to 1) and its ICC colour profile, as bytes; None where absent."""

    exif: bytes | None = None
    icc_profile: bytes | None = None

    @classmethod
    def of(cls, img: Image.Image, icc_profile: bytes | None = None) -> "Metadata":
        """The image's EXIF, and `icc_profile`: the profile of the RGB pixels it is read as
        (see `_to_rgb_space`), not necessarily the one its file carries."""
        exif = img.getexif()
        if len(exif):
            exif[_ORIENTATION] = 1
        return cls(exif.tobytes() if len(exif) else None, icc_profile or None)


def _profile_space(icc: bytes) -> str | None:
    """The colour space an ICC profile describes ("RGB", "CMYK", "GRAY", ...), or None when
    the profile cannot be read."""
    from PIL import ImageCms

    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()
    except (OSError, ValueError, ImageCms.PyCMSError):
        return None


def _to_rgb_space(img: Image.Image) -> tuple[Image.Image, bytes | None]:
    """(image, ICC profile of the RGB pixels it will be read as). An RGB photo keeps its own
    profile (Display P3, Adobe RGB). A CMYK or grayscale photo with a profile of its own kind
    is converted through that profile to sRGB, as colour-managed software shows it, and
    carries none afterwards: its profile describes ink or grey values, which RGB output
    must not claim. A profile of another kind than the pixels is dropped; one this reader
    cannot parse stays with RGB pixels, for software that can."""
    icc = img.info.get("icc_profile") or None
    if icc is None:
        return img, None
    space = _profile_space(icc)
    if img.mode in ("RGB", "RGBA", "RGBX", "P", "PA"):
        return img, icc if space in ("RGB", None) else None
    if (img.mode == "CMYK" and space == "CMYK") or (img.mode in ("L", "LA") and space == "GRAY"):
        from PIL import ImageCms

        alpha = img.getchannel("A") if img.mode == "LA" else None
        source = img.convert("L") if alpha is not None else img
        try:
            rgb = ImageCms.profileToProfile(source, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"),
                                            outputMode="RGB")
        except (OSError, ValueError, ImageCms.PyCMSError):
            return img, None
        if alpha is not None:
            rgb.putalpha(alpha)
        rgb.info["exif"] = img.info.get("exif", b"")
        return rgb, None
    return img, None


@dataclass
class LoadedImage:
    """An image as the package sees it.

    rgb: float32 HxWx3 in [0,1]. transparent: bool HxW, True where alpha is 0, or None when
    the image has no alpha channel (or no fully transparent pixel).
    """

    rgb: np.ndarray
    transparent: np.ndarray | None = None
    metadata: Metadata = Metadata()


def _describe(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return "the uploaded image"


def _open(source, max_pixels: int, name: str) -> Image.Image:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ValueError(f"{name} does not exist")
        if path.is_dir():
            raise ValueError(f"{name} is a folder, not an image file")
        if path.stat().st_size == 0:
            raise ValueError(f"{name} is an empty file (0 bytes), not an image")
        fp = path
    elif isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ValueError(f"{name} is empty (0 bytes), not an image")
        fp = io.BytesIO(bytes(source))
    else:
        fp = source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(fp, formats=READ_FORMATS)
    except UnidentifiedImageError:
        raise ValueError(
            f"{name} is not an image aeapp can read; use {READABLE}"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{name} declares too many pixels to open safely (limit {max_pixels:,} pixels)") from None
    except OSError as e:
        raise ValueError(f"{name} could not be read: {e}") from None
    w, h = img.size
    if w * h > max_pixels:
        raise ValueError(
            f"{name} is {w}x{h} ({w * h / 1e6:.1f} megapixels); the limit is {max_pixels / 1e6:.0f} megapixels"
        )
    if w < 1 or h < 1:
        raise ValueError(f"{name} has no pixels ({w}x{h})")
    return img


def _pil_to_arrays(img: Image.Image, name: str) -> LoadedImage:
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)  # animations: the first frame
        img.load()
        img = ImageOps.exif_transpose(img)
        exif_source = img
        img, icc = _to_rgb_space(img)
        metadata = Metadata.of(exif_source, icc)
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{name} is damaged or truncated and could not be decoded ({e})") from None
    mode = img.mode
    alpha = None
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        gray = np.asarray(img, dtype=np.float32)
        rgb = np.repeat((np.clip(gray, 0, 65535) / 65535.0)[..., None], 3, axis=2)
        return LoadedImage(rgb.astype(np.float32), metadata=metadata)
    if mode == "F":
        gray = np.asarray(img, dtype=np.float32)
        gray = np.nan_to_num(gray)
        gray = gray / 255.0 if gray.max(initial=0) > 1.0 else gray
        return LoadedImage(np.repeat(np.clip(gray, 0, 1)[..., None], 3, axis=2).astype(np.float32), metadata=metadata)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif mode in ("LA", "PA", "RGBa", "La"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        arr = np.asarray(img)
        alpha = arr[..., 3]
        rgb = arr[..., :3]
    else:
        rgb = np.asarray(img.convert("RGB"))
    rgb = rgb.astype(np.float32) / 255.0
    transparent = None
    if alpha is not None and (alpha == 0).any():
        transparent = alpha == 0
    return LoadedImage(np.ascontiguousarray(rgb), transparent, metadata)


def _array_to_loaded(arr: np.ndarray) -> LoadedImage:
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"an image array must be HxW, HxWx1, HxWx3 or HxWx4, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        f = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        f = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        f = unit_range(arr)
    elif arr.dtype == bool:
        f = arr.astype(np.float32)
    else:
        raise ValueError(f"unsupported image array dtype {arr.dtype}; use uint8, uint16 or float in [0,1]")
    transparent = None
    if f.shape[2] == 4:
        transparent = f[..., 3] == 0
        transparent = transparent if transparent.any() else None
        f = f[..., :3]
    elif f.shape[2] == 1:
        f = np.repeat(f, 3, axis=2)
    return LoadedImage(np.ascontiguousarray(f, dtype=np.float32), transparent)


def read_image(source, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> LoadedImage:
    """Read a path, bytes, file object, PIL image or array into a LoadedImage. `name`: how
    messages call the image (default: its path, or "the uploaded image")."""
    if isinstance(source, np.ndarray):
        h, w = source.shape[:2]
        if h * w > max_pixels:
            raise ValueError(f"the image is {w}x{h}; the limit is {max_pixels / 1e6:.0f} megapixels")
        return _array_to_loaded(source)
    if isinstance(source, Image.Image):
        w, h = source.size
        if w * h > max_pixels:
            raise ValueError(f"the image is {w}x{h}; the limit is {max_pixels / 1e6:.0f} megapixels")
        return _pil_to_arrays(source, "the image")
    name = name or _describe(source)
    img = _open(source, max_pixels, name)
    try:
        return _pil_to_arrays(img, name)
    finally:
        img.close()


def load_image(source, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> np.ndarray:
    """Read any supported image source as float32 RGB HxWx3 in [0,1]."""
    return read_image(source, max_pixels, name).rgb


def unit_range(image: np.ndarray) -> np.ndarray:
    """A float32 copy clipped to [0,1] with NaN as 0 (infinities clip to 0 or 1). Cheaper
    than np.nan_to_num, which scans for infinities the clip handles anyway."""
    out = np.clip(image, 0.0, 1.0, dtype=np.float32)
    nan = np.isnan(out)
    if nan.any():
        out[nan] = 0.0
    return out


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float [0,1] HxWx3 (or HxW) -> uint8, rounded; a bool mask -> 0/255; uint8 as it is."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    return (unit_range(image) * 255.0 + 0.5).astype(np.uint8)


def save_image(image: np.ndarray, path: str | os.PathLike, png_compress_level: int = 6, quality: int = 95,
               metadata: Metadata | None = None) -> Path:
    """Write an image (anything `to_uint8` takes) in the format the suffix names, with the
    source photo's `metadata` (EXIF and ICC profile) where the format holds them (PNG,
    JPEG, WebP, TIFF; not BMP). `quality`: JPEG and WebP, 1 to 100. PNG level 1 is about
    four times faster than the default 6, for about 7% more bytes."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise ValueError(f"cannot write {path}: use one of {', '.join(WRITE_SUFFIXES)}")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be between 1 and 100, got {quality}")
    pil = Image.fromarray(to_uint8(image))
    options: dict = {}
    if suffix in (".jpg", ".jpeg", ".webp"):
        options = {"quality": int(quality)}
    elif suffix == ".png":
        options = {"compress_level": png_compress_level}
    if metadata is not None and suffix != ".bmp":
        options.update({k: v for k, v in (("exif", metadata.exif), ("icc_profile", metadata.icc_profile)) if v})
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path, **options)
    return path


def list_images(folder: str | os.PathLike, recursive: bool = True) -> list[Path]:
    """Image files under `folder` by suffix, sorted for reproducibility."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder")
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


_SLICE = re.compile(r"^(?P<folder>.+?)\[(?P<start>\d*):(?P<stop>\d*)\]$")


def parse_image_set(spec: str | os.PathLike) -> tuple[Path, slice]:
    """(folder, which of its sorted images) from "FOLDER" or "FOLDER[start:stop]"."""
    match = _SLICE.match(str(spec))
    if match is None:
        return Path(spec), slice(None)
    bound = [int(match[k]) if match[k] else None for k in ("start", "stop")]
    return Path(match["folder"]), slice(*bound)


def list_image_set(spec: str | os.PathLike) -> list[Path]:
    """The images "FOLDER" (all under it, sorted by path) or "FOLDER[start:stop]" (a slice of
    those) names: how validation and the benchmark split one collection between them."""
    folder, part = parse_image_set(spec)
    return list_images(folder)[part]


def image_set_name(spec: str | os.PathLike) -> str:
    """The folder's name, e.g. "Urban100" for "../shared/data/Urban100[20:40]"."""
    return parse_image_set(spec)[0].name
