"""MNIST-style normalisation: any ink image -> the 28x28 input the model expects.

MNIST digits were made by scaling each digit's bounding box so the longer side is
20 px (anti-aliased, keeping the aspect ratio), pasting it into a 28x28 field and
shifting it so its centre of mass sits at the centre. Every input path of the app
(canvas, uploaded photos, the CLI, training-time style augmentation) goes through
``to_mnist_28`` below, so the model always sees digits made the same way.

Conventions: an "ink image" is float32 (H, W) in [0, 1], 0 = background, 1 = ink.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MNIST_SIZE = 28
MNIST_BOX = 20


def ink_bbox(ink: np.ndarray, threshold: float = 0.05) -> tuple[int, int, int, int] | None:
    """Bounding box ``(x, y, w, h)`` of pixels above ``threshold``, or None if there are none.

    ink: float32 (H, W) in [0, 1].
    """
    if ink.size == 0:
        return None
    x, y, w, h = cv2.boundingRect((ink > threshold).astype(np.uint8))
    return None if w == 0 else (x, y, w, h)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted centre ``(cx, cy)`` in pixel coordinates of float32 (H, W)."""
    total = float(image.sum())
    if total <= 0:
        h, w = image.shape
        return (w - 1) / 2, (h - 1) / 2
    ys, xs = np.indices(image.shape, dtype=np.float64)
    return float((xs * image).sum() / total), float((ys * image).sum() / total)


@dataclass(frozen=True)
class Placement:
    """Where a 28x28 input came from: 28x28 pixel (u, v) shows source pixel
    ``(x + (u - left) / scale, y + (v - top) / scale)``."""

    x: int
    y: int
    scale: float
    left: int
    top: int

    def to_source_matrix(self) -> np.ndarray:
        """float32 (2, 3) affine matrix mapping 28x28 coordinates to source coordinates."""
        inv = 1.0 / self.scale
        return np.float32([[inv, 0, self.x - self.left * inv], [0, inv, self.y - self.top * inv]])


def fit_to_mnist(ink: np.ndarray, box: int = MNIST_BOX) -> tuple[np.ndarray, Placement | None]:
    """Crop to the ink, fit the longer side into ``box`` px, centre by mass in 28x28.

    ink: float32 (H, W) in [0, 1] holding one digit.
    Returns float32 (28, 28) in [0, 1] and its Placement (None, with all zeros, when
    there is no ink).
    """
    bbox = ink_bbox(ink)
    if bbox is None:
        return np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32), None
    x, y, w, h = bbox
    crop = ink[y : y + h, x : x + w].astype(np.float32)
    scale = box / max(w, h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    # INTER_AREA averages source pixels when shrinking (anti-aliasing, as MNIST was
    # made); INTER_LINEAR when enlarging a small crop.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    cx, cy = centre_of_mass(small)
    # Whole-pixel shift putting the centre of mass at the centre (14, 14), as MNIST
    # did: a sub-pixel shift would blur thin strokes for no gain. Clamped so the box
    # always stays inside the field.
    left = int(np.clip(round(MNIST_SIZE / 2 - cx), 0, MNIST_SIZE - new_w))
    top = int(np.clip(round(MNIST_SIZE / 2 - cy), 0, MNIST_SIZE - new_h))
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    out[top : top + new_h, left : left + new_w] = small
    placement = Placement(x, y, new_w / w, left, top)
    return np.clip(out, 0.0, 1.0), placement


def to_mnist_28(ink: np.ndarray, box: int = MNIST_BOX) -> np.ndarray:
    """``fit_to_mnist`` without the placement: float32 (H, W) -> float32 (28, 28)."""
    return fit_to_mnist(ink, box)[0]


def straightened(images: np.ndarray, turn: float, unslant: float, unslant_first: bool = False) -> np.ndarray:
    """Model inputs turned and un-slanted, then fitted MNIST-style again.

    images: float32 (n, 28, 28) in [0, 1], MNIST-style inputs.
    turn: degrees, counter-clockwise as seen (undoes writing turned clockwise);
    unslant: x shift per unit of height taken out (positive undoes a lean to the right);
    unslant_first: the shear before the turn (otherwise after it). Each digit is drawn
    at twice its size about its centre (so nothing is clipped and thin strokes survive
    the resampling), turned and sheared, then cropped, scaled and centred by
    ``fit_to_mnist`` as every input is. Returns float32 (n, 28, 28).
    """
    images = np.asarray(images, np.float32).reshape(-1, MNIST_SIZE, MNIST_SIZE)
    side = 4 * MNIST_SIZE  # room for a digit at twice its size, turned and sheared by a whole height
    centre = side / 2
    from_middle = np.array([[2, 0, -MNIST_SIZE], [0, 2, -MNIST_SIZE], [0, 0, 1]])  # twice the size, about the middle
    turned = np.vstack([cv2.getRotationMatrix2D((0, 0), turn, 1.0), [0, 0, 1]])
    sheared = np.array([[1, unslant, 0], [0, 1, 0], [0, 0, 1]])
    to_centre = np.array([[1, 0, centre], [0, 1, centre], [0, 0, 1]])
    straightening = turned @ sheared if unslant_first else sheared @ turned
    matrix = (to_centre @ straightening @ from_middle)[:2].astype(np.float32)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        out[i] = fit_to_mnist(cv2.warpAffine(image, matrix, (side, side), flags=cv2.INTER_LINEAR))[0]
    return out


# --- Stroke width --------------------------------------------------------------

# Median stroke width of MNIST digits measured crisply: enlarged 10x (cubic), measured
# with ``stroke_width`` at threshold 0.25 and expressed in 28x28 pixels (1,500 test
# digits; quartiles 2.35, 3.06).
# Drawings are measured the same way, at their own resolution, where even a thin
# anti-aliased pen line is crisp (at 28x28 it breaks into faint fragments).
MNIST_STROKE_WIDTH_CRISP = 2.67
INK_THRESHOLD = 0.25
# Strokes are corrected only outside THICKEN_BELOW-THIN_ABOVE times MNIST's width
# (``normalise_stroke_width``).
THICKEN_BELOW = 0.75
THIN_ABOVE = 1.75


def stroke_width(ink: np.ndarray, threshold: float = 0.5) -> float:
    """Mean stroke width in px of float32 (H, W) ink: ink area / half the outline length.

    For a stroke of length L and width w, area = wL and the outline is ~2L, so the
    ratio is w. Returns 0 for an image without ink.
    """
    mask = (ink > threshold).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return float(mask.sum() / (perimeter / 2)) if perimeter > 0 else 0.0


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def normalise_stroke_width(ink: np.ndarray, target: float = MNIST_STROKE_WIDTH_CRISP) -> tuple[np.ndarray, int]:
    """Thicken thin or thin fat strokes so the 28x28 result has MNIST-like strokes.

    ink: float32 (H, W) in [0, 1], one digit at any resolution. The width is measured
    at this resolution, expressed in 28x28 pixels (the digit's longer side becomes
    20), and, when far from MNIST's, corrected with one grey-level dilation or
    erosion by a disk. Returns float32 (H + 2 pad, W + 2 pad) in [0, 1] and ``pad``,
    the border added so thickened strokes are not cut off (0 when nothing was added).
    """
    bbox = ink_bbox(ink, INK_THRESHOLD)
    width_source = stroke_width(ink, INK_THRESHOLD)
    if bbox is None or width_source <= 0:
        return ink, 0
    source_px_per_28_px = max(bbox[2], bbox[3]) / MNIST_BOX
    width_28 = width_source / source_px_per_28_px
    # Only correct clear outliers: MNIST itself spans roughly 2.1-3.5 px (10th-90th
    # percentile), and training thickens its strokes by up to 2 px, so the network reads
    # strokes up to THIN_ABOVE times MNIST's as they are. Thinning is an erosion, which
    # also shortens every stroke end (a 6's short stem, a 1's flag), so it is kept for
    # strokes fatter than the network ever saw.
    if width_28 < THICKEN_BELOW * target:
        radius = round((target - width_28) / 2 * source_px_per_28_px)
        if radius >= 1:
            padded = cv2.copyMakeBorder(ink, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
            return cv2.dilate(padded, _disk(radius)), radius
    elif width_28 > THIN_ABOVE * target:
        radius = round((width_28 - target) / 2 * source_px_per_28_px)
        if radius >= 1:
            thinned = cv2.erode(ink, _disk(radius))
            # Never erase the digit: keep the original if erosion removed most ink.
            if (thinned > 0.5).sum() > 0.2 * (ink > 0.5).sum():
                return thinned, 0
    return ink, 0


# --- Canvas and segmentation ------------------------------------------------------

def ink_from_picture(rgba: np.ndarray) -> np.ndarray:
    """A canvas drawing or a clean picture of digits -> ink float32 (H, W) in [0, 1].

    uint8 (H, W, 4) RGBA (or (H, W, 3) RGB, or (H, W) grey). With a meaningful
    transparent area (a transparent canvas) ink is the opacity. Otherwise the
    background is the median grey and ink is the distance from it, so light strokes
    on a dark canvas and dark ink on light paper both work, scaled so the stroke pixel
    farthest from the background reaches 1.
    """
    image = np.asarray(rgba, dtype=np.uint8)
    if image.ndim == 3 and image.shape[-1] == 4:
        alpha = image[..., 3]
        if np.count_nonzero(alpha < 128) > 0.05 * alpha.size:
            return alpha.astype(np.float32) / 255
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2GRAY if image.shape[-1] == 4 else cv2.COLOR_RGB2GRAY)
    # Median from a histogram: exact for uint8 and much faster than np.median (OpenCV's
    # histogram: 0.13 ms for a canvas, numpy's bincount 0.18).
    histogram = cv2.calcHist([np.ascontiguousarray(image)], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    background = int(np.searchsorted(np.cumsum(histogram), image.size / 2))
    distance = cv2.absdiff(image, np.full_like(image, background))
    strongest = int(distance.max())
    if strongest <= 25:  # a flat image: no ink
        return np.zeros(image.shape, np.float32)
    # Scaled, not clipped: the strongest stroke pixel reaches 1 and the strokes keep their
    # grey profile, as MNIST's anti-aliased strokes have one. (Stretching the 95th
    # percentile to 1 flattened stroke cores into plateaus, which read fatter: 3 more
    # USPS scans misread.)
    return distance.astype(np.float32) / strongest


@dataclass
class DigitCrop:
    """One digit found in an ink image, ready for the model.

    box: (x, y, w, h) in source pixels; image: float32 (28, 28) in [0, 1], the model's
    input; placement: how ``image`` maps back onto the source (for saliency overlays);
    doubt: why the region does not look like a digit (a photo's odd size or shape),
    None when it does.
    """

    box: tuple[int, int, int, int]
    image: np.ndarray
    placement: Placement
    doubt: str | None = None


def group_digit_parts(stats: np.ndarray) -> list[list[int]]:
    """Union components (rows of cv2 stats: x, y, w, h, area) that belong to one digit:
    their horizontal extents overlap by at least half the narrower one's width and
    they are vertically close (the bar of a 4, the hat of a 5, a broken stroke)."""
    parent = list(range(len(stats)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(stats)):
        for j in range(i + 1, len(stats)):
            xi, yi, wi, hi = stats[i][:4]
            xj, yj, wj, hj = stats[j][:4]
            overlap_x = min(xi + wi, xj + wj) - max(xi, xj)
            gap_y = max(yi, yj) - min(yi + hi, yj + hj)
            if overlap_x >= 0.5 * min(wi, wj) and gap_y <= 0.5 * max(hi, hj):
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(stats)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


def _touching_cut(mask: np.ndarray) -> int | None:
    """Where to cut a tight bool mask (h, w) much wider than tall into two touching
    digits: a column with less than half the ink of a typical column, away from the
    ends, crossing the ink once (two digits touch at one place; a column through a
    wide 0 crosses it twice, and so does one through a 0 whose ends do not quite meet
    once gaps under a fifth of its height are closed), leaving two parts at least half
    the height tall (not a digit and its long flourish) and not slivers. None when
    there is no such column."""
    h, w = mask.shape
    if w <= 1.3 * h or w < 8 or _upright_width(mask) <= UPRIGHT_ONE_DIGIT * h:
        return None
    gap = max(3, int(0.2 * h) | 1)
    padded = np.pad(mask.astype(np.uint8), gap)
    closed = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (gap, gap)))
    closed = closed[gap:-gap, gap:-gap] > 0
    columns = np.convolve(mask.sum(axis=0).astype(np.float32), np.ones(3, np.float32) / 3, mode="same")
    typical = float(np.median(columns[columns > 0]))
    lo, hi = max(1, int(0.3 * h)), min(w - 1, int(w - 0.3 * h))
    if hi <= lo:
        lo, hi = max(1, w // 3), min(w - 1, 2 * w // 3)
    # Prefer the middle a little: among near-minimal columns, the most central.
    score = columns[lo:hi] + np.abs(np.arange(lo, hi) - w / 2) / w * columns.max() * 0.3
    for cut in lo + np.argsort(score, kind="stable")[:12]:
        if columns[cut] > 0.5 * typical:
            return None
        if _ink_runs(mask[:, cut]) > 1 or _ink_runs(closed[:, cut]) > 1:
            continue  # through a loop (a wide 0), not where two digits touch
        left, right = ink_bbox(mask[:, :cut], 0), ink_bbox(mask[:, cut:], 0)
        if left and right and min(left[3], right[3]) >= 0.5 * h and min(left[2], right[2]) >= 0.15 * h:
            return int(cut)
    return None


UPRIGHT_ONE_DIGIT = 1.1  # a blob no wider than this times its height, once upright, is one digit


def _upright_width(mask: np.ndarray) -> float:
    """Width in px of a bool (h, w) mask's ink with its slant sheared out (x shifted
    by -skew * y, the skew from the ink's second moments, as MNIST is often deskewed):
    a 0 written slanting far to the right is wide only because it leans; two digits
    side by side stay wide."""
    ys, xs = np.nonzero(mask)
    if len(ys) < 2 or np.ptp(ys) == 0:
        return float(mask.shape[1])
    ys = ys.astype(np.float64) - ys.mean()
    skew = float((ys * (xs - xs.mean())).mean() / (ys * ys).mean())
    upright = xs - skew * ys
    return float(upright.max() - upright.min() + 1)


def _ink_runs(column: np.ndarray) -> int:
    """How many separate runs of ink a bool (h,) column crosses."""
    ink = np.asarray(column, bool)
    return int(ink[0]) + int(np.count_nonzero(ink[1:] & ~ink[:-1]))


def split_touching(mask: np.ndarray) -> list[tuple[int, int]]:
    """Column spans ``[(x0, x1), ...]`` of the digits in a blob of ink, left to right:
    one span for a digit, several for digits written touching each other.

    mask: bool or 0/1 (H, W). A blob much wider than tall is cut where the digits
    touch (``_touching_cut``), and each part again while it is still too wide. A
    wide 0 or a 7 with a long bar has no such column and stays whole.
    """
    box = ink_bbox(mask, 0)
    if box is None:
        return []
    x0, y0, w, h = box
    tight = np.asarray(mask)[y0 : y0 + h, x0 : x0 + w] > 0
    cut = _touching_cut(tight)
    if cut is None:
        return [(x0, x0 + w)]
    left = split_touching(tight[:, :cut])
    right = split_touching(tight[:, cut:])
    return [(x0 + a, x0 + b) for a, b in left] + [(x0 + cut + a, x0 + cut + b) for a, b in right]


def segment_digits(ink: np.ndarray, normalise_width: bool = True) -> list[DigitCrop]:
    """Split an ink image into digits, read left to right.

    ink: float32 (H, W) in [0, 1]. Connected components of the ink (8-connected),
    specks dropped, parts of one digit grouped (``group_digit_parts``), digits
    written touching each other cut apart (``split_touching``), dots, scribbles and
    marks too small to be a digit dropped. Each digit is masked out of the image, its
    stroke width normalised, and fitted MNIST-style into 28x28.
    Returns [] when there is nothing to read (no ink, or only a dot).
    """
    mask = (ink > INK_THRESHOLD).astype(np.uint8)
    # Components of the inked part only: their statistics cost by the pixel (a 280x280
    # canvas 0.29 ms, its inked box 0.05 ms).
    inked_x, inked_y, inked_w, inked_h = cv2.boundingRect(mask)
    if inked_w == 0:  # no ink (OpenCV crashes on an empty image)
        return []
    inked = mask[inked_y : inked_y + inked_h, inked_x : inked_x + inked_w]
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inked, connectivity=8)
    if count <= 1:
        return []
    stats = stats[1:]  # row 0 is the background
    total_area = stats[:, cv2.CC_STAT_AREA].sum()
    keep = [i for i in range(len(stats)) if stats[i, cv2.CC_STAT_AREA] >= max(4, 0.01 * total_area)]
    if not keep:
        return []
    width = max(1.0, stroke_width(ink, INK_THRESHOLD))
    pieces = []  # (x0, y0, bool mask of the digit's ink in its box)
    for group in group_digit_parts(stats[keep]):
        members = [keep[g] for g in group]
        x0 = min(stats[m, 0] for m in members)
        y0 = min(stats[m, 1] for m in members)
        x1 = max(stats[m, 0] + stats[m, 2] for m in members)
        y1 = max(stats[m, 1] + stats[m, 3] for m in members)
        group_mask = np.isin(labels[y0:y1, x0:x1], [m + 1 for m in members])
        x0, y0 = x0 + inked_x, y0 + inked_y  # in the ink's coordinates
        for a, b in split_touching(group_mask):
            part = group_mask[:, a:b]
            _, top, _, height = ink_bbox(part, 0)
            pieces.append((int(x0 + a), int(y0 + top), part[top : top + height]))
    crops = []
    tallest = max(piece.shape[0] for _, _, piece in pieces)
    for x0, y0, piece in pieces:
        h, w = piece.shape
        # A dot or a tiny scribble: no longer than a couple of stroke widths, or a
        # mark under a third of the digits' height (a scan's sliver of its neighbour).
        if max(w, h) < max(6.0, 2.5 * width, 0.3 * tallest):
            continue
        # Work on a crop around the digit; grow its mask a little so the
        # anti-aliased edges of the strokes come along.
        left, top = max(0, x0 - 3), max(0, y0 - 3)
        right, bottom = min(ink.shape[1], x0 + w + 3), min(ink.shape[0], y0 + h + 3)
        region = np.zeros((bottom - top, right - left), np.uint8)
        region[y0 - top : y0 - top + h, x0 - left : x0 - left + w] = piece
        region = cv2.dilate(region, _disk(2))
        digit_ink = np.where(region > 0, ink[top:bottom, left:right], 0).astype(np.float32)
        pad = 0
        if normalise_width:
            digit_ink, pad = normalise_stroke_width(digit_ink)
        image, placement = fit_to_mnist(digit_ink)
        # Placement of the crop -> placement in the whole source image.
        placement = Placement(placement.x + left - pad, placement.y + top - pad, placement.scale,
                              placement.left, placement.top)
        crops.append(DigitCrop((x0, y0, w, h), image, placement))
    crops.sort(key=lambda c: c.box[0] + c.box[2] / 2)
    return crops
