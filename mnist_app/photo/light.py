"""Photo stages 1-2: which way round the ink is, an ink channel whatever its colour,
the paper's brightness under uneven light, and the typical stroke width."""

from __future__ import annotations

import cv2
import numpy as np

from mnist_app.photo.pixels import downscale, odd_size
from mnist_app.photo.regions import digit_filling_the_picture
from mnist_app.photo.threshold import threshold_ink
from mnist_app.preprocess import stroke_width

# --- 1. Polarity and ink channel --------------------------------------------------

def ink_channel(rgb: np.ndarray, light_on_dark: bool) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (H, W) where ink is darker than paper.

    For dark ink the darkest channel of each pixel: coloured ink is dark in at
    least one channel (blue ink in red, red ink in green and blue) while white
    paper is bright in all three. For light ink, the inverted brightest channel.
    """
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if light_on_dark:  # np.maximum of the planes: ~10x faster than rgb.max(axis=2), the same
        return 255 - np.maximum(np.maximum(red, green), blue)
    return np.minimum(np.minimum(red, green), blue)


# --- 2. Flattening the light ----------------------------------------------------------

def paper_background(channel: np.ndarray, window: int) -> np.ndarray:
    """The paper's brightness under uneven light: uint8 (H, W) -> uint8 (H, W).

    A grey-level closing with a ``window`` px square erases every dark feature
    narrower than the window (strokes) but keeps bright areas wider than it with
    their edges where they were: a shadow's or the sheet's hard edge stays sharp
    instead of leaving a dark rim that would read as ink. A 3x3 median first (which
    keeps edges too) stops the closing from following single bright noise pixels.
    """
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (window, window))
    return cv2.morphologyEx(cv2.medianBlur(channel, 3), cv2.MORPH_CLOSE, kernel)


def darkness(channel: np.ndarray, background: np.ndarray) -> np.ndarray:
    """How much darker than the paper each pixel is, as a fraction of the paper's
    brightness: float32 (H, W) in [0, 1] (0 = paper, 1 = black). Dividing (rather than
    subtracting) makes ink in a shadow as dark as ink in full light."""
    paper = np.maximum(background.astype(np.float32), 8.0)
    return np.clip(1.0 - channel.astype(np.float32) / paper, 0.0, 1.0)


def noise_floor(channel: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Darkness that paper noise alone can reach: float32 (H, W).

    Sensor and JPEG noise is about the same number of grey levels everywhere, so as
    a fraction of the paper's brightness it is larger where the paper is dark (in a
    shadow, on the table): the floor is the robust spread of ``background -
    channel`` in grey levels, times 4.5, divided by the local paper brightness.
    """
    deficit = background.astype(np.int16) - channel.astype(np.int16)
    level = median_of_integers(deficit)
    # |deficit - level| in half grey levels: integers, since the level is a whole or half one.
    spread = max(1.0, 1.4826 * median_of_integers(np.abs(2 * deficit - int(2 * level))) / 2)
    paper = np.maximum(background.astype(np.float32), 8.0)
    return (level + 4.5 * spread) / paper


def median_of_integers(values: np.ndarray) -> float:
    """``np.median`` of an integer array of a small range (grey levels), the same value,
    from a histogram: a whole photo's median without sorting its pixels (~10x faster)."""
    low = int(values.min())
    counts = np.cumsum(np.bincount((values - low).ravel()))
    n = int(counts[-1])
    upper = int(np.searchsorted(counts, n // 2 + 1))  # the value at sorted index n // 2
    if n % 2:
        return float(low + upper)
    lower = int(np.searchsorted(counts, n // 2))  # ... and at n // 2 - 1
    return low + (lower + upper) / 2


def ink_is_lighter(grey: np.ndarray) -> bool:
    """True when the ink is lighter than the paper (chalk on a board, a dark canvas).

    grey: uint8 (H, W). Two views must agree, since each alone is fooled:
    - locally: the paper covers most of any neighbourhood a few strokes wide, so a
      median over such a window (a quarter of the shorter side) is the paper's
      brightness, and ink is what departs from it a lot. Only the middle of the
      photo counts (a sheet's corner on a dark table departs "lighter" from a median
      of mostly table), and the straight edge of a shadow hardly departs from a
      median at all. A close-up fools it: where one fat digit fills the picture,
      the window's median is ink and the paper departs "lighter";
    - globally: the picture's own median is the paper wherever the paper is most of
      the picture, as in any close-up or scan (a dark table around a small sheet
      fools this one instead).
    Whichever sign more pixels depart by wins each view; dark ink wins unless light
    ink is clearly commoner in both: light paper is far the commoner.
    """
    small, _ = downscale(grey, 400)
    h, w = small.shape
    window = odd_size(np.clip(min(h, w) / 4, 9, max(h, w) / 5))
    local = small.astype(np.int16) - cv2.medianBlur(small, window).astype(np.int16)
    whole = small.astype(np.int16) - int(np.median(small))
    return _departs_lighter(local[h // 5 : h - h // 5, w // 5 : w - w // 5]) and _departs_lighter(whole)


def _departs_lighter(difference: np.ndarray) -> bool:
    """Do clearly more pixels of int16 (h, w) ``difference`` (picture - paper) depart
    upwards than downwards, by more than noise?"""
    threshold = max(15.0, 5 * 1.4826 * float(np.median(np.abs(difference))))
    return int((difference > threshold).sum()) > 1.5 * int((difference < -threshold).sum())


def estimate_stroke_width(channel: np.ndarray) -> float:
    """Typical pen stroke width in px of a uint8 (H, W) ink channel (ink dark).

    From a coarse pass (longest side 400 px) of the same flattening and threshold
    as the full pipeline, with a window a twelfth of the image: wider than any pen
    stroke in a photo of a page, narrow enough that few shadows fit in it. In a
    close-up or a scan, one fat digit fills the picture and its strokes can be wider
    than that window: the flattening then follows the stroke itself and only its two
    edges read as ink, thin pieces. So while doubling the window (once or twice)
    finds strokes much wider and more ink, or twice the ink, the wider window is the
    right one.
    """
    small, scale = downscale(channel, 400)
    windows = [odd_size(max(small.shape) / 12)]
    while windows[-1] < max(small.shape) / 2:
        windows.append(odd_size(2 * windows[-1]))
    found: dict[int, tuple[float, int]] = {}

    def at(j: int) -> tuple[float, int]:  # each window's pass only when the comparison needs it
        if j not in found:
            found[j] = _stroke_width_at(small, windows[j])
        return found[j]

    width, area = at(0)
    k = 0
    while k + 1 < len(windows):
        # The next window, or the one after it (a fat stroke can still be in pieces at the next).
        better = next((j for j in (k + 1, k + 2)[: len(windows) - k - 1]
                       if at(j)[0] > 1.5 * width and at(j)[1] > 1.3 * area or at(j)[1] > 2 * area), None)
        if better is None:
            break
        k = better
        width, area = at(k)
    return max(1.0, width / scale) if width > 0 else 3.0


def _stroke_width_at(small: np.ndarray, window: int) -> tuple[float, int]:
    """The median stroke width over the ink's area (a few specks count for little)
    and that area, of uint8 (h, w) ``small`` flattened with a ``window`` px window;
    (0, 0) without ink. Pieces touching the border (the table, the sheet's edge)
    are left out, but for a close-up's digit (``regions.digit_filling_the_picture``)
    when it is most of the ink."""
    background = paper_background(small, window)
    mask = threshold_ink(darkness(small, background), noise_floor(small, background), window)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    inner, filling = [], []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < 12 or max(w, h) < 6:
            continue
        piece = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
        if not (x == 0 or y == 0 or x + w == small.shape[1] or y + h == small.shape[0]):
            inner.append((stroke_width(piece.astype(np.float32)), area))
        elif digit_filling_the_picture(piece, (x, y, w, h), small.shape):
            filling.append((stroke_width(piece.astype(np.float32)), area))
    # A close-up: what touches the edge is most of the ink (see regions.find_regions).
    strokes = sorted(filling if sum(a for _, a in filling) > 2 * sum(a for _, a in inner) else inner)
    if not strokes:
        return 0.0, 0
    cumulative = np.cumsum([a for _, a in strokes])
    return strokes[int(np.searchsorted(cumulative, cumulative[-1] / 2))][0], int(cumulative[-1])
