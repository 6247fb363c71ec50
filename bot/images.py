"""Image bytes: what they are (by magic bytes, never by what a server claims) and making them fit.

Discord caps each attachment; an image over the cap is re-encoded rather than dropped. Pillow work
is CPU-bound: call ``fit_to_limit`` through ``asyncio.to_thread`` from async code.

Pillow is imported on first use, not at start-up: it is 2.2 MiB of resident memory the bot does
not need until its first image (bench.scale holds the bot to 1.3x a bare discord.py bot's memory
at ready).
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bot import texts
from bot.errors import ImageDownloadError

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImageKind:
    """A recognised image format: its MIME type, file extension (no dot) and Pillow format name."""

    mime_type: str
    extension: str
    pil_format: str


PNG: Final = ImageKind("image/png", "png", "PNG")
JPEG: Final = ImageKind("image/jpeg", "jpg", "JPEG")
WEBP: Final = ImageKind("image/webp", "webp", "WEBP")
GIF: Final = ImageKind("image/gif", "gif", "GIF")

# Quality steps tried in order before any downscaling; high enough that nobody sees the difference.
_WEBP_QUALITY: Final = 90
_JPEG_QUALITIES: Final = (92, 85, 78)
_DOWNSCALE_STEP: Final = 0.75
_MIN_SIDE: Final = 64
# Imagen's largest output is about 2K a side: nothing real comes near 4096 x 4096. The cap is far
# under Pillow's own bomb threshold, and is checked on the header, before anything is decoded.
MAX_PIXELS: Final = 4096 * 4096


def sniff(data: bytes) -> ImageKind | None:
    """The image format by magic bytes, or None when the bytes are not an image we post."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


def ensure_image(data: bytes) -> ImageKind:
    """The format of ``data``; ImageDownloadError when it is not an image (an error page, say)."""
    kind = sniff(data)
    if kind is None:
        raise ImageDownloadError(
            detail=f"not an image: {len(data)} bytes starting {data[:16].hex()}"
        )
    return kind


@contextmanager
def _opened(data: bytes, kind: ImageKind, what: str) -> Iterator[Image.Image]:
    """``data`` opened lazily (header only), refused if over ``MAX_PIXELS``; bombs are errors.

    Pillow's DecompressionBombWarning is turned into an error for this block only, so a decode
    can never go ahead on a warning.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=(kind.pil_format,)) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    over = f"{width}x{height} is over the {MAX_PIXELS}-pixel cap"
                    raise ImageDownloadError(detail=f"{what} refused: {over}")
                yield img
    except (
        UnidentifiedImageError,
        OSError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ImageDownloadError(detail=f"{what} refused: {type(exc).__name__}: {exc}") from exc


def dimensions(data: bytes) -> tuple[int, int]:
    """Width and height, read from the header only (Pillow opens lazily and decodes nothing)."""
    with _opened(data, ensure_image(data), "image header") as img:
        return img.size


def _encode(img: Image.Image, kind: ImageKind, quality: int) -> bytes:
    buf = io.BytesIO()
    if kind is JPEG:
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        rgb.save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
    else:
        webp = img if img.mode in ("RGB", "RGBA") else img.convert("RGBA")
        webp.save(buf, "WEBP", quality=quality, method=4)
    return buf.getvalue()


def fit_to_limit(data: bytes, limit_bytes: int) -> tuple[bytes, ImageKind, bool]:
    """``data`` unchanged when it fits; else re-encoded (WebP, JPEG, then smaller) to fit.

    Returns the bytes, their kind and whether they were re-encoded, so the reply can say so.
    """
    kind = ensure_image(data)
    if len(data) <= limit_bytes:
        return data, kind, False
    from PIL import Image

    with _opened(data, kind, "image to re-encode") as opened:
        opened.load()
        img = opened.copy()

    attempts: list[tuple[ImageKind, int]] = [(WEBP, _WEBP_QUALITY)]
    attempts += [(JPEG, q) for q in _JPEG_QUALITIES]
    for target, quality in attempts:
        out = _encode(img, target, quality)
        if len(out) <= limit_bytes:
            log.info(
                "re-encoded %s image of %d bytes to %s q%d: %d bytes (limit %d)",
                kind.extension,
                len(data),
                target.extension,
                quality,
                len(out),
                limit_bytes,
            )
            return out, target, True

    while min(img.size) > _MIN_SIDE:
        size = (max(1, int(img.width * _DOWNSCALE_STEP)), max(1, int(img.height * _DOWNSCALE_STEP)))
        img = img.resize(size, Image.Resampling.LANCZOS)
        out = _encode(img, JPEG, _JPEG_QUALITIES[1])
        if len(out) <= limit_bytes:
            log.info(
                "downscaled %s image of %d bytes to %dx%d JPEG: %d bytes (limit %d)",
                kind.extension,
                len(data),
                img.width,
                img.height,
                len(out),
                limit_bytes,
            )
            return out, JPEG, True
    raise ImageDownloadError(
        texts.IMAGE_TOO_LARGE(),
        detail=f"could not fit a {len(data)}-byte image into {limit_bytes} bytes",
    )
