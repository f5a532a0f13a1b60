"""Decoding image files safely.

Every file a user gives goes through ``decode_image``: any format Pillow reads, EXIF
orientation applied, palette / 16-bit / CMYK / greyscale / alpha all brought to
uint8 RGBA. Oversized files and decompression bombs are refused *before* decoding,
and every failure is an ``ImageError`` with a message fit to show a user.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000


class ImageError(ValueError):
    """The file is not an image we can read; the message says why, for a user."""


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Image file bytes -> uint8 (H, W, 4) RGBA, upright (EXIF orientation applied)."""
    if not data:
        raise ImageError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"the file is too large ({len(data) / 2**20:.1f} MB; the limit is "
                         f"{MAX_FILE_BYTES / 2**20:.0f} MB)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            # Checked from the header, before any pixel is decoded.
            if width * height > max_pixels:
                raise ImageError(f"the image is too large ({width}x{height} = "
                                 f"{width * height / 1e6:.0f} megapixels; the limit is "
                                 f"{max_pixels / 1e6:.0f})")
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgba(image)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError("this is not an image file (PNG, JPEG, WebP, GIF, BMP or TIFF, say)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"the image is too large (over {Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels; "
                         f"the limit is {max_pixels / 1e6:.0f})") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, TypeError):
        raise ImageError("the image file is corrupt or incomplete") from None


def decode_canvas_png(data: bytes) -> np.ndarray:
    """The PNG the Draw page's canvas sends after every stroke -> uint8 (H, W, 4) RGBA.

    Decoded by OpenCV, which leaves Python's interpreter lock to the other sessions
    while it works (Pillow's copy into an array holds it: 3% of a loaded server's time
    under the lock); anything but an RGBA PNG goes through ``decode_image``."""
    picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if picture is None or picture.ndim != 3 or picture.shape[2] != 4 or picture.dtype != np.uint8:
        return decode_image(data)
    return cv2.cvtColor(picture, cv2.COLOR_BGRA2RGBA)


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """uint8 (H, W, 3) RGB -> JPEG file bytes, for showing a photo. Streamlit encodes an
    array at quality 100: four times the bytes (a 1,200 px photo: 246 KB against 57 KB)
    for a difference no one sees at the size it is shown."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} picture as JPEG")
    return encoded.tobytes()


def _to_rgba(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> uint8 (H, W, 4) RGBA."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        image = Image.fromarray(scaled.astype(np.uint8), "L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode == "CMYK":
        image = image.convert("RGB")
    return np.asarray(image.convert("RGBA"), dtype=np.uint8)

