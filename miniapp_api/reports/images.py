"""Photo checks and clean-up for uploads (随手拍照片), with Pillow.

:func:`process_image` takes the raw bytes a resident sent and either returns a
:class:`ProcessedImage` (the re-encoded picture and its JPEG thumbnail) or raises

* :class:`UnsupportedImage` — not a JPEG, PNG or WebP by its *content* (SVG, HTML, GIF, an
  empty file, …). File names and declared content types are never looked at: they are chosen
  by the sender.
* :class:`InvalidImage` — claims to be one of those but cannot be decoded (truncated, corrupt).
* :class:`TooManyPixels` (an ``InvalidImage``) — the header declares more pixels than
  ``uploads.max_pixels``; refused after reading the header, before anything is decoded.

Decoding is bounded in memory. ``max_pixels`` is the most pixels ever decoded, not only the
most a header may declare: a PNG or WebP above it is refused; a JPEG above it (a 48 MP phone
photo) is decoded reduced on load, at 1/2, 1/4 or 1/8 of its size, by libjpeg's DCT scaling
(Pillow's draft mode), so its full-size pixels never exist in memory — and refused only when
even 1/8 is too large. :func:`run_decode` bounds how many pictures one process decodes at
once, on a few threads of its own; callers read the upload's bytes there too, so waiting
uploads stay in werkzeug's spooled temporary files rather than in memory.

Every accepted picture is decoded and encoded again. That is what guarantees the stored file
is a plain image: EXIF (with its GPS position), XMP, ICC profiles and anything appended to
the file do not survive, because only pixels are copied. EXIF orientation is applied first so
the picture still shows the right way up once its EXIF is gone. Animated PNG/WebP keep only
their first frame.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import io
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from PIL import Image
from PIL import ImageCms
from PIL import ImageOps

JPEG_QUALITY = 85
THUMB_QUALITY = 80


class ImageError(Exception):
    """Base class: the bytes are not an image we accept. ``str(err)`` is a Chinese message."""


class UnsupportedImage(ImageError):
    """Not a JPEG, PNG or WebP (judged by content)."""


class InvalidImage(ImageError):
    """Looks like a supported format but cannot be decoded."""


class TooManyPixels(InvalidImage):
    """The header declares more pixels than allowed."""


class Busy(Exception):
    """No decode slot became free in time (too many uploads at once in this process)."""


#: JPEG reduction factors libjpeg can apply while decoding (DCT scaling).
JPEG_REDUCTIONS = (1, 2, 4, 8)

T = TypeVar("T")


def _libc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _libc_malloc_trim()


def _decode_and_trim(fn: Callable[[], T]) -> T:
    try:
        return fn()
    finally:
        if _malloc_trim is not None:
            # Give the freed pixel buffers back to the system now: glibc keeps them in the
            # thread's heap otherwise, and the next picture's buffers rarely fit the holes.
            _malloc_trim(0)

_slots_lock = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore, ThreadPoolExecutor] | None = None


def _decoders(concurrency: int) -> tuple[threading.BoundedSemaphore, ThreadPoolExecutor]:
    global _slots
    with _slots_lock:
        if _slots is None or _slots[0] != concurrency:
            _slots = (concurrency, threading.BoundedSemaphore(concurrency),
                      ThreadPoolExecutor(concurrency, thread_name_prefix="decode"))
        return _slots[1], _slots[2]


def run_decode(fn: Callable[[], T], *, concurrency: int, wait_seconds: float) -> T:
    """Run ``fn`` (read, decode and encode one picture) on one of this process's
    ``concurrency`` decode threads, waiting at most ``wait_seconds`` for a free one
    (:class:`Busy`); return what it returns, raise what it raises.

    A semaphore bounds the pictures in memory at once. The decoding itself always runs on the
    same few threads: glibc gives each thread that allocates its own heap (arena) and keeps
    what was freed there, so 16 request threads each decoding a 48 MB picture in turn would
    each keep ~50 MB for good (measured: 1.1 GB for one worker); two decode threads keep two.
    """
    slots, pool = _decoders(concurrency)
    if not slots.acquire(timeout=wait_seconds):
        raise Busy("no decode slot free")
    try:
        return pool.submit(_decode_and_trim, fn).result()
    finally:
        slots.release()


@dataclass(frozen=True)
class ProcessedImage:
    """A cleaned photo: ``data`` in its original format, ``thumb`` always JPEG."""

    data: bytes
    thumb: bytes
    content_type: str
    ext: str
    width: int
    height: int


@dataclass(frozen=True)
class _Format:
    pillow: tuple[str, ...]  # names Pillow may report for it
    content_type: str
    ext: str


# Pillow reports JPEGs carrying a multi-picture index (most phone cameras) as "MPO".
_FORMATS = {
    "jpeg": _Format(("JPEG", "MPO"), "image/jpeg", "jpg"),
    "png": _Format(("PNG",), "image/png", "png"),
    "webp": _Format(("WEBP",), "image/webp", "webp"),
}


def sniff(data: bytes) -> str | None:
    """``"jpeg"``, ``"png"`` or ``"webp"`` from the file's magic bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _raise_pillow_limit(max_pixels: int) -> None:
    # Pillow has its own, process-wide bomb limit, checked in Image.open (a warning above it,
    # an error above twice it). Make sure it never refuses a picture our setting allows; it
    # is only ever raised, never lowered, so concurrent calls cannot undo each other. Our own
    # check below is the one that enforces ``max_pixels``.
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and current < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _open(data: bytes, fmt: _Format, max_pixels: int) -> Image.Image:
    """Read the header only (no pixel data) and check the format and the pixel count."""
    # A JPEG may declare up to 64 times the budget: it is then decoded at 1/8.
    _raise_pillow_limit(max_pixels * JPEG_REDUCTIONS[-1] ** 2)
    try:
        img = Image.open(io.BytesIO(data), formats=list(fmt.pillow))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning arrives as an exception only when warnings are errors (the test suite).
        raise TooManyPixels("图片像素太多，请压缩后再上传") from None
    except Exception:  # UnidentifiedImageError, or whatever a malformed header provokes
        raise InvalidImage("图片文件已损坏，无法识别") from None
    if img.format not in fmt.pillow:
        raise UnsupportedImage("只支持 JPEG、PNG 或 WebP 格式的图片")
    width, height = img.size
    if width < 1 or height < 1:
        raise InvalidImage("图片尺寸无效")
    if width * height > max_pixels:
        scale = _jpeg_reduction(img, width, height, max_pixels)
        if scale is None:
            raise TooManyPixels(f"图片像素太多（{width}×{height}），请压缩后再上传")
        # Decode at 1/scale: the requested size makes Pillow pick exactly this factor.
        img.draft(None, (width // scale, height // scale))
        if img.size[0] * img.size[1] > max_pixels:  # a decoder that would not reduce
            raise TooManyPixels(f"图片像素太多（{width}×{height}），请压缩后再上传")
    return img


def _jpeg_reduction(img: Image.Image, width: int, height: int, max_pixels: int) -> int | None:
    """The smallest JPEG reduction that brings the decoded picture within ``max_pixels``, or
    None (not a JPEG, or too large even at 1/8)."""
    if img.format not in ("JPEG", "MPO"):
        return None
    for scale in JPEG_REDUCTIONS[1:]:
        if math.ceil(width / scale) * math.ceil(height / scale) <= max_pixels:
            return scale
    return None


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert pixels described by an embedded ICC profile to sRGB, so dropping the profile
    does not shift the colours (phones often tag photos Display P3)."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA"):
        return img
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"), outputMode=img.mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img  # a broken profile: keep the pixels as they are


def _normalise_mode(img: Image.Image, ext: str) -> Image.Image:
    """A mode the output format can hold, keeping transparency where the format has it."""
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if ext == "jpg":
        return img if img.mode in ("RGB", "L") else img.convert("RGB")
    if has_alpha:
        return img if img.mode == "RGBA" else img.convert("RGBA")
    if ext == "png" and img.mode == "L":
        return img
    return img if img.mode == "RGB" else img.convert("RGB")


def _decode(img: Image.Image, ext: str) -> Image.Image:
    """Decode every pixel, upright, in a plain mode, as a new image with no metadata."""
    img.load()  # a truncated or corrupt file fails here
    # In place: a picture with no orientation to apply is not copied (a copy of a 16 MP
    # picture is 48 MB more). ``img`` is ours alone, made from the uploaded bytes.
    ImageOps.exif_transpose(img, in_place=True)
    clean = _normalise_mode(_to_srgb(img), ext)
    # Savers fall back to ``info`` for some metadata (PNG copies its ICC profile); pixels
    # with an empty info carry nothing from the original file.
    clean.info = {}
    return clean


def _encode(img: Image.Image, ext: str) -> bytes:
    out = io.BytesIO()
    if ext == "jpg":
        # No ``optimize``: its second Huffman pass keeps every DCT coefficient of the picture
        # in memory (96 MB for 16 MP) to save a few per cent of file size.
        img.save(out, "JPEG", quality=JPEG_QUALITY)
    elif ext == "png":
        img.save(out, "PNG")
    else:
        img.save(out, "WEBP", quality=JPEG_QUALITY, method=4)
    return out.getvalue()


def _thumbnail(img: Image.Image, size: int) -> bytes:
    # ``resize`` makes the small image straight from the big one (no full-size copy, as
    # ``thumbnail`` on a copy would); small pictures are never enlarged.
    scale = min(1.0, size / max(img.size))
    new_size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    thumb = img.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if thumb.mode in ("RGBA", "LA"):
        # JPEG has no alpha: put transparent areas on white rather than black.
        rgba = thumb.convert("RGBA")
        thumb = Image.new("RGB", rgba.size, (255, 255, 255))
        thumb.paste(rgba, mask=rgba.getchannel("A"))
    elif thumb.mode != "RGB":
        thumb = thumb.convert("RGB")
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)
    return out.getvalue()


def process_image(data: bytes, *, max_pixels: int, thumbnail_px: int) -> ProcessedImage:
    """Validate ``data`` as a JPEG/PNG/WebP photo and return it re-encoded without metadata.

    :param data: the uploaded bytes, already limited in size by the caller.
    :param max_pixels: the most pixels decoded: a larger JPEG is reduced on load (1/2, 1/4,
        1/8), any other larger picture is refused from its header.
    :param thumbnail_px: the thumbnail fits in a square of this many pixels.
    :raises UnsupportedImage: not one of the accepted formats (judged by content).
    :raises TooManyPixels: too many pixels (checked before decoding).
    :raises InvalidImage: truncated or corrupt.
    """
    if not data:
        raise UnsupportedImage("文件是空的，请重新选择照片")
    kind = sniff(data)
    if kind is None:
        raise UnsupportedImage("只支持 JPEG、PNG 或 WebP 格式的图片")
    fmt = _FORMATS[kind]
    img = _open(data, fmt, max_pixels)
    try:
        with img:  # (``clean`` may be ``img`` itself: use it before the file is let go)
            clean = _decode(img, fmt.ext)
            encoded = _encode(clean, fmt.ext)
            thumb = _thumbnail(clean, thumbnail_px)
    except ImageError:
        raise
    except MemoryError:
        raise TooManyPixels("图片太大，无法处理") from None
    except Exception:  # decoders raise OSError, SyntaxError, ValueError, zlib.error, …
        raise InvalidImage("图片文件已损坏或不完整，请重新拍摄或选择") from None
    return ProcessedImage(encoded, thumb, fmt.content_type, fmt.ext, clean.width, clean.height)
