"""Reading digits in phone photos of paper: uneven light, shadows, coloured ink, ruled
lines, a tilted sheet, blur and JPEG noise.

The pipeline (``find_digits_in_photo``), on a copy downscaled to ``WORK_SIDE``:

1. polarity: is the ink darker or lighter than the paper? Then one "ink channel"
   where ink is dark whatever its colour (the darkest RGB channel, so blue or red
   ink is as dark as black ink);
2. flatten the light: the paper's brightness is estimated by a grey-level closing
   (a local maximum then minimum, which erases strokes narrower than the window but
   keeps the hard edge of a shadow), and the photo is divided by it, so shadows
   and gradients vanish and ink becomes "darkness" in [0, 1];
3. threshold locally: a pixel is ink when it is darker than both the paper's noise
   allows and half the darkest ink around it (so faint, blurred and bold digits
   all keep their full strokes);
4. clean up: long straight near-horizontal lines (ruled paper) are found with a
   Hough transform and their own darkness subtracted (a pen stroke crossing them
   stays), specks and the sheet's edge or the table are dropped;
5. digit regions: connected components, broken strokes merged, touching digits
   split at the column with least ink, size and shape outliers flagged, read in
   rows top to bottom, left to right;
6. each region through the same path as the canvas: its ink is masked out,
   ``preprocess.normalise_stroke_width`` then ``preprocess.fit_to_mnist``.

``crops_from_picture`` is the one entry point for any picture: canvas-style drawings
go to ``preprocess.segment_digits``, photos here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from mnist_app.preprocess import (
    DigitCrop,
    Placement,
    _group_components,
    fit_to_mnist,
    ink_from_picture,
    normalise_stroke_width,
    segment_digits,
    split_touching,
    stroke_width,
)

# Longest side of the working copy: phone photos (12+ megapixels) are read at this
# size, which keeps digits tens of pixels tall and the pipeline well under a second.
WORK_SIDE = 1200

KEPT_COLOUR = (40, 190, 70)
DOUBT_COLOUR = (245, 150, 20)
DROPPED_COLOUR = (150, 150, 150)


@dataclass
class PhotoAnalysis:
    """What was found in a picture, with the intermediate images.

    crops: digits in reading order; boxes and placements in the picture's own pixel
    coordinates (``doubt`` set on regions that do not look like digits).
    is_photo: False when the picture looked like a clean drawing and was read like
    the canvas (``preprocess.segment_digits``); ``background`` is then None.
    scale: working copy size / picture size (<= 1). The images, all at working size
    (h, w): rgb uint8 (h, w, 3); background uint8 (h, w), the paper's estimated
    brightness in the ink channel (ink dark whatever its colour); flattened uint8
    (h, w), the ink channel divided by it (paper 255, before ruled lines are taken
    out); ink float32 (h, w) in [0, 1], the darkness read (after ruled lines are
    taken out); binary uint8 (h, w), 255 = ink after clean-up; regions uint8
    (h, w, 3), the working copy with every region's box (green: read, orange:
    flagged, grey: dropped). dropped: boxes (picture coordinates) left out, and why.
    """

    crops: list[DigitCrop]
    is_photo: bool
    scale: float
    light_on_dark: bool
    stroke_px: float
    rgb: np.ndarray
    background: np.ndarray | None
    flattened: np.ndarray
    ink: np.ndarray
    binary: np.ndarray
    regions: np.ndarray
    dropped: list[tuple[tuple[int, int, int, int], str]] = field(default_factory=list)

    def working_crops(self) -> list[DigitCrop]:
        """``crops`` with boxes and placements in working-copy coordinates, to draw
        over ``rgb`` / ``ink`` (e.g. with ``visual.saliency_on_drawing``)."""
        return [scale_crop(c, self.scale) for c in self.crops]


# --- Telling photos from drawings ---------------------------------------------------

def looks_like_photo(rgba: np.ndarray) -> bool:
    """True for a photo or scan, False for a canvas-style drawing.

    uint8 (H, W, 4) RGBA (or (H, W, 3), or (H, W) grey). A drawing (the app's canvas,
    a digital drawing, even saved as JPEG) has a flat background: a meaningful
    transparent area, or most pixels within a couple of grey levels of the commonest
    one. Paper in a photo has texture, noise and shading, so its commonest grey
    level holds only a small share of the pixels.
    """
    image = np.asarray(rgba, np.uint8)
    if image.ndim == 3 and image.shape[-1] == 4 and (image[..., 3] < 128).mean() > 0.05:
        return False
    # Every k-th pixel of a big picture: as many as needed, and unlike a smoothed
    # downscale it keeps the paper's noise.
    step = max(1, int(np.sqrt(image.shape[0] * image.shape[1] / 1e6)))
    grey = _grey(_rgb(image[::step, ::step]))
    histogram = np.bincount(grey.ravel(), minlength=256)
    mode = int(histogram.argmax())
    flat_share = histogram[max(0, mode - 2) : mode + 3].sum() / grey.size
    return bool(flat_share < 0.5)


def crops_from_picture(rgba: np.ndarray) -> list[DigitCrop]:
    """The digits in any picture, in reading order, ready for the model.

    uint8 (H, W, 4) RGBA as ``images.decode_image`` returns. Drawings go through
    ``preprocess.segment_digits``, photos through ``find_digits_in_photo``.
    """
    if looks_like_photo(rgba):
        return find_digits_in_photo(rgba).crops
    return segment_digits(ink_from_picture(rgba))


def analyse_picture(rgba: np.ndarray, work_side: int = WORK_SIDE) -> PhotoAnalysis:
    """``crops_from_picture`` with the intermediate images, for showing how a picture
    was read: a photo's analysis, or for a drawing its ink and regions."""
    if looks_like_photo(rgba):
        return find_digits_in_photo(rgba, work_side)
    ink = ink_from_picture(rgba)
    crops = segment_digits(ink)
    small, scale = _downscale(np.asarray(rgba, np.uint8), work_side)
    rgb = _rgb(small)
    small_ink, _ = _downscale(ink, work_side)
    binary = (small_ink > 0.25).astype(np.uint8) * 255
    regions = [_Region(scale_crop(c, scale).box, np.zeros((0, 0), np.uint8), c.doubt) for c in crops]
    return PhotoAnalysis(crops=crops, is_photo=False, scale=scale, light_on_dark=False,
                         stroke_px=stroke_width(ink), rgb=rgb, background=None,
                         flattened=(255 * (1 - small_ink)).astype(np.uint8), ink=small_ink,
                         binary=binary, regions=regions_image(rgb, regions, []))


def annotated(rgb: np.ndarray, boxes: list[tuple[int, int, int, int]], labels: list[str],
              flagged: list[bool]) -> np.ndarray:
    """The picture with a box and a label over each digit: uint8 (h, w, 3) from
    uint8 (h, w, 3) and per digit its box (x, y, w, h, in ``rgb``'s pixels), label
    and whether it is flagged (drawn in orange with a "?", else green)."""
    out = rgb.copy()
    thickness = max(2, round(max(rgb.shape[:2]) / 400))
    for (x, y, w, h), label, flag in zip(boxes, labels, flagged):
        colour = DOUBT_COLOUR if flag else KEPT_COLOUR
        text = f"{label}?" if flag else label
        pad = thickness + 2
        cv2.rectangle(out, (x - pad, y - pad), (x + w + pad, y + h + pad), colour, thickness)
        font_scale = max(0.5, min(3.0, h / 45))
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = y - pad - th - base - 2 * thickness
        if top < 0:  # no room above: label below the box
            top = y + h + pad
        left = int(np.clip(x - pad, 0, max(0, out.shape[1] - tw - 2 * thickness)))
        cv2.rectangle(out, (left, top), (left + tw + 2 * thickness, top + th + base + 2 * thickness), colour, -1)
        cv2.putText(out, text, (left + thickness, top + th + thickness), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
    return out


# --- Small helpers ----------------------------------------------------------------

def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W), (H, W, 3) or (H, W, 4) -> uint8 (H, W, 3); transparency over white."""
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    if image.shape[-1] == 3:
        return image
    if image[..., 3].min() == 255:  # opaque, as photos are: no blending to do
        return image[..., :3]
    alpha = image[..., 3:4].astype(np.float32) / 255
    return (image[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _odd(n: float) -> int:
    n = int(round(n))
    return n if n % 2 else n + 1


def _downscale(image: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Shrink so the longest side is at most ``side``; returns the copy and its scale."""
    longest = max(image.shape[:2])
    if longest <= side:
        return image, 1.0
    scale = side / longest
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def scale_crop(crop: DigitCrop, factor: float) -> DigitCrop:
    """A crop with its box and placement in coordinates multiplied by ``factor``."""
    x, y, w, h = crop.box
    box = (int(round(x * factor)), int(round(y * factor)), max(1, int(round(w * factor))),
           max(1, int(round(h * factor))))
    p = crop.placement
    # Placement keeps integer source corners; the rounding is under one source pixel.
    placement = Placement(int(round(p.x * factor)), int(round(p.y * factor)), p.scale / factor, p.left, p.top)
    return DigitCrop(box, crop.image, placement, crop.doubt)


# --- 1. Polarity and ink channel --------------------------------------------------

def ink_channel(rgb: np.ndarray, light_on_dark: bool) -> np.ndarray:
    """uint8 (H, W, 3) -> uint8 (H, W) where ink is darker than paper.

    For dark ink the darkest channel of each pixel: coloured ink is dark in at
    least one channel (blue ink in red, red ink in green and blue) while white
    paper is bright in all three. For light ink, the inverted brightest channel.
    """
    if light_on_dark:
        return 255 - rgb.max(axis=2)
    return rgb.min(axis=2)


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
    deficit = background.astype(np.float32) - channel.astype(np.float32)
    level = float(np.median(deficit))
    spread = max(1.0, 1.4826 * float(np.median(np.abs(deficit - level))))
    paper = np.maximum(background.astype(np.float32), 8.0)
    return (level + 4.5 * spread) / paper


def ink_is_lighter(grey: np.ndarray) -> bool:
    """True when the ink is lighter than the paper (chalk on a board, a dark canvas).

    grey: uint8 (H, W). The paper covers most of any neighbourhood a few strokes
    wide, so a median over such a window (a quarter of the shorter side) is the
    paper's brightness, and ink is what departs from it a lot; whichever sign more
    pixels depart by wins. Only the middle of the photo counts (a sheet's corner
    on a dark table departs "lighter" from a median of mostly table), and the
    straight edge of a shadow hardly departs from a median at all. Dark ink wins
    unless light ink is clearly commoner: light paper is far the commoner.
    """
    small, _ = _downscale(grey, 400)
    h, w = small.shape
    window = _odd(np.clip(min(h, w) / 4, 9, max(h, w) / 5))
    diff = small.astype(np.int16) - cv2.medianBlur(small, window).astype(np.int16)
    middle = diff[h // 5 : h - h // 5, w // 5 : w - w // 5]
    threshold = max(15.0, 5 * 1.4826 * float(np.median(np.abs(middle))))
    return int((middle > threshold).sum()) > 1.5 * int((middle < -threshold).sum())


def estimate_stroke_width(channel: np.ndarray) -> float:
    """Typical pen stroke width in px of a uint8 (H, W) ink channel (ink dark).

    From a coarse pass (longest side 400 px) of the same flattening and threshold
    as the full pipeline, with a window a twelfth of the image: wider than any pen
    stroke, narrow enough that few shadows fit in it. The median width over the
    ink's area (a few specks count for little), leaving out pieces touching the
    border (the table, the sheet's edge).
    """
    small, scale = _downscale(channel, 400)
    window = _odd(max(small.shape) / 12)
    background = paper_background(small, window)
    mask = threshold_ink(darkness(small, background), noise_floor(small, background), window)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    strokes = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < 12 or max(w, h) < 6 or x == 0 or y == 0 or x + w == small.shape[1] or y + h == small.shape[0]:
            continue
        strokes.append((stroke_width(mask[y : y + h, x : x + w].astype(np.float32)), area))
    if not strokes:
        return 3.0
    strokes.sort()
    cumulative = np.cumsum([a for _, a in strokes])
    median = strokes[int(np.searchsorted(cumulative, cumulative[-1] / 2))][0]
    return max(1.0, median / scale)


# --- 3. Local threshold -----------------------------------------------------------------

def threshold_ink(dark: np.ndarray, floor: np.ndarray, window: int) -> np.ndarray:
    """Ink pixels of float32 (H, W) darkness: uint8 (H, W) 0/1.

    A pixel is ink when its darkness is (a) above ``floor`` (float32 (H, W), what
    paper noise reaches, see ``noise_floor``) and at least 0.06, and (b) at least
    half the darkest ink within ``window`` px: a local threshold that keeps each
    digit's full stroke whether it is bold, faint or blurred, and lets a faint
    ruled line vanish next to dark ink. Components that never get clearly dark
    (twice the floor or 0.2 above it, and at least 0.15) are dropped: texture,
    smudges.
    """
    low = np.maximum(floor, 0.06)
    smooth = cv2.GaussianBlur(dark, (3, 3), 0)
    peak = cv2.dilate(smooth, cv2.getStructuringElement(cv2.MORPH_RECT, (window, window)))
    mask = ((dark > low) & (dark >= 0.5 * peak)).astype(np.uint8)
    count, labels, _, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    # How far each component gets above its own floor.
    strongest = np.zeros(count, np.float32)
    np.maximum.at(strongest, labels.ravel(), (smooth - np.maximum(np.minimum(2 * low, low + 0.2), 0.15) + 1).ravel())
    keep = strongest >= 1
    keep[0] = False
    return keep[labels].astype(np.uint8)


# --- 4. Clean-up: ruled lines -----------------------------------------------------------

def remove_ruled_lines(dark: np.ndarray, faint: np.ndarray, stroke_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Take ruled paper's lines out of the darkness: long straight near-horizontal
    lines (``remove_lines_along_rows``), then squared paper's near-vertical ones
    (the same on the transposed image, but only lines over 60% of its height, so
    that a tall 1 is never taken for one). Same arguments and results."""
    cleaned, band = remove_lines_along_rows(dark, faint, stroke_px)
    cleaned_t, band_t = remove_lines_along_rows(np.ascontiguousarray(cleaned.T), np.ascontiguousarray(faint.T),
                                                stroke_px, min_share=0.6)
    return np.ascontiguousarray(cleaned_t.T), band | band_t.T


def remove_lines_along_rows(dark: np.ndarray, faint: np.ndarray, stroke_px: float,
                            min_share: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Take long straight near-horizontal lines (ruled paper) out of the darkness.

    dark: float32 (H, W) darkness; faint: uint8 (H, W) 0/1, everything darker than
    paper noise allows, where a ruled line runs unbroken even across digits. A
    probabilistic Hough transform finds straight runs in ``faint`` within 15 degrees
    of horizontal, at least ``min_share`` of the image wide, with gaps of at most a couple of
    strokes (so digits' bars that happen to line up do not make a line). A run is a
    ruled line when along at least half its length the ink is a thin run (a line's
    thickness, not a digit's stroke coming down across it). In a band along it the
    line's own darkness is subtracted from pixels about as dark as the line: the
    line vanishes, while a pen stroke crossing or lying on it, darker than a
    printed rule, stays whole.
    Returns the darkness without the lines, float32 (H, W), and the bands, uint8 0/1.
    """
    h, w = dark.shape
    band = np.zeros((h, w), np.uint8)
    min_length = max(min_share * w, 20 * stroke_px)
    lines = cv2.HoughLinesP(faint * 255, 1, np.pi / 360, threshold=int(min_length * 0.5),
                            minLineLength=int(min_length), maxLineGap=int(max(4, 2 * stroke_px)))
    if lines is None:
        return dark, band
    max_thickness = 2.5 * stroke_px + 2
    cleaned = dark.copy()
    for x0, y0, x1, y1 in lines.reshape(-1, 4):
        if abs(y1 - y0) > np.tan(np.deg2rad(15)) * abs(x1 - x0):
            continue
        runs = _vertical_runs(faint, (x0, y0, x1, y1))
        thin = runs[(runs > 0) & (runs <= max_thickness)]
        if len(thin) < 0.5 * len(runs):
            continue
        this = np.zeros_like(band)
        cv2.line(this, (int(x0), int(y0)), (int(x1), int(y1)), 1, int(np.median(thin)) + 3)
        # The line's darkness: the median over the band's inked pixels, most of which
        # are the line's own (a digit crosses it only here and there).
        on_line = (this > 0) & (faint > 0)
        level = float(np.median(dark[on_line])) if on_line.any() else 0.0
        inside = (this > 0) & (dark < 1.2 * level + 0.05)  # ink clearly darker than the line stays whole
        cleaned[inside] = np.maximum(dark[inside] - level, 0.0)
        band |= this
    return cleaned, band


def _vertical_runs(mask: np.ndarray, segment, samples: int = 60) -> np.ndarray:
    """Length in px of the vertical run of ink through evenly spaced points of a
    segment (0 where the point is not on ink, or within a pixel of it): int (samples,)."""
    x0, y0, x1, y1 = segment
    h, w = mask.shape
    runs = np.zeros(samples, np.int32)
    for k, t in enumerate(np.linspace(0, 1, samples)):
        x = int(round(x0 + t * (x1 - x0)))
        y = int(round(y0 + t * (y1 - y0)))
        if not (0 <= x < w):
            continue
        column = mask[:, x]
        hits = [yy for yy in (y, y - 1, y + 1) if 0 <= yy < h and column[yy]]
        if not hits:
            continue
        top = bottom = hits[0]
        while top > 0 and column[top - 1]:
            top -= 1
        while bottom < h - 1 and column[bottom + 1]:
            bottom += 1
        runs[k] = bottom - top + 1
    return runs


# --- 5. Digit regions -------------------------------------------------------------------

@dataclass
class _Region:
    box: tuple[int, int, int, int]  # x, y, w, h in working pixels
    mask: np.ndarray  # uint8 (h, w) 0/1 inside box
    doubt: str | None = None


def find_regions(mask: np.ndarray, stroke_px: float) -> tuple[list[_Region], list[tuple[tuple[int, int, int, int], str]]]:
    """Digit regions of a uint8 0/1 ink mask, and the boxes dropped with a reason.

    Components of the mask after a closing about one stroke wide (re-joining a
    stroke broken by a highlight or a faint patch); specks and anything huge at the
    photo's border (the sheet's edge, the table) dropped; the rest grouped like the
    canvas's (``preprocess._group_components``: a 4's bar, a 5's hat), with small
    pieces joined to the digit just beside them. The typical digit height is the
    median among the tall regions; against it, dots and dashes are dropped, straight
    lines too, regions much wider than tall split (touching digits), and odd sizes
    and shapes flagged (``_Region.doubt``).
    """
    h_img, w_img = mask.shape
    join = _odd(max(3, stroke_px))
    joined = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (join, join)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    dropped: list[tuple[tuple[int, int, int, int], str]] = []

    def touches_edge(box) -> bool:
        x, y, w, h = box
        return x <= 1 or y <= 1 or x + w >= w_img - 1 or y + h >= h_img - 1

    def near_edge(box) -> bool:
        x, y, w, h = box
        margin = 0.05 * min(w_img, h_img)
        return x < margin or y < margin or x + w > w_img - margin or y + h > h_img - margin

    min_area = max(6.0, 1.5 * stroke_px * stroke_px)
    keep = []
    for i in range(1, count):
        box = tuple(int(v) for v in stats[i, :4])
        area = int(stats[i, 4])
        if area < min_area or max(box[2], box[3]) < 2.5 * stroke_px:
            if area >= 4:
                dropped.append((box, "speck"))
        elif touches_edge(box) and (box[2] > 0.5 * w_img or box[3] > 0.5 * h_img or
                                    min(box[2], box[3]) <= 2 * stroke_px and max(box[2], box[3]) >= 5 * stroke_px):
            dropped.append((box, "edge of the sheet"))  # or a sliver of the table beyond it
        else:
            keep.append(i)
    if not keep:
        return [], dropped
    # Typical digit height before grouping, so that digits in two rows, one above
    # the other, are not grouped as one (their union would be far too tall).
    inner_heights = [stats[i, 3] for i in keep if not touches_edge(tuple(stats[i, :4]))] or \
        [stats[i, 3] for i in keep]
    rough_height = float(np.median([h for h in inner_heights if h >= 0.4 * max(inner_heights)]))
    grouped = []
    for group in _group_components(stats[keep]):
        members = [keep[g] for g in group]
        top = min(stats[m, 1] for m in members)
        bottom = max(stats[m, 1] + stats[m, 3] for m in members)
        grouped.extend([members] if bottom - top <= 1.5 * rough_height else [[m] for m in members])
    groups = []
    for members in grouped:
        x0 = min(stats[m, 0] for m in members)
        y0 = min(stats[m, 1] for m in members)
        x1 = max(stats[m, 0] + stats[m, 2] for m in members)
        y1 = max(stats[m, 1] + stats[m, 3] for m in members)
        region_mask = np.isin(labels[y0:y1, x0:x1], members).astype(np.uint8) & mask[y0:y1, x0:x1]
        groups.append(_Region((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), region_mask))

    inner = [r for r in groups if not touches_edge(r.box)] or groups
    tallest = max(r.box[3] for r in inner)
    height = float(np.median([r.box[3] for r in inner if r.box[3] >= 0.4 * tallest]))
    groups = _join_small_pieces(groups, height)

    regions: list[_Region] = []
    for r in groups:
        x, y, w, h = r.box
        fill = r.mask.sum() / max(1, w * h)
        if max(w, h) < 0.3 * height or h < 0.25 * height:
            dropped.append((r.box, "speck or dash"))
        elif touches_edge(r.box) and not (0.5 * height < h < 1.6 * height and w < 1.6 * h and 0.12 < fill < 0.5):
            dropped.append((r.box, "edge of the sheet"))
        elif max(w, h) > 1.3 * height and _thickness(r.mask) < 2.5 * stroke_px:
            dropped.append((r.box, "straight line"))
        elif near_edge(r.box) and max(w, h) > 4 * stroke_px and _thickness(r.mask) < 1.5 * stroke_px:
            dropped.append((r.box, "edge of the sheet"))  # a sliver of table along it
        elif h < 0.6 * height and _widest_point(r.mask) > 2.2 * stroke_px:
            dropped.append((r.box, "solid patch"))  # a wedge of table or shadow, not pen strokes
        elif h > 0.55 * height and w > 1.3 * h:
            regions.extend(_split_wide(r))
        else:
            regions.append(r)
    for r in regions:
        x, y, w, h = r.box
        fill = r.mask.sum() / max(1, w * h)
        if touches_edge(r.box):
            r.doubt = "touches the edge of the photo"
        elif h < 0.55 * height:
            r.doubt = "much smaller than the other digits"
        elif h > 1.9 * height:
            r.doubt = "much larger than the other digits"
        elif w > 1.6 * h:
            r.doubt = "too wide for one digit"
        elif fill > 0.7 and min(w, h) > 4 * stroke_px:
            r.doubt = "a solid blob, not pen strokes"
    return regions, dropped


def _widest_point(mask: np.ndarray) -> float:
    """Diameter in px of the largest disk that fits in a uint8 0/1 mask's ink: about
    the stroke width for pen strokes, much more for a solid patch."""
    distance = cv2.distanceTransform(cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0),
                                     cv2.DIST_L2, 3)
    return 2 * float(distance.max())


def _thickness(mask: np.ndarray) -> float:
    """The short side of the smallest rotated rectangle around a uint8 0/1 mask's ink."""
    points = cv2.findNonZero(mask)
    if points is None:
        return 0.0
    (_, _), (a, b), _ = cv2.minAreaRect(points)
    return float(min(a, b))


def _join_small_pieces(groups: list[_Region], height: float) -> list[_Region]:
    """Join each piece under half a digit tall to the nearest digit close beside it,
    when the union stays digit-sized: a 5's hat drawn off to the right, the tail of
    a broken 7."""
    big = [g for g in groups if g.box[3] >= 0.5 * height]
    small = [g for g in groups if g.box[3] < 0.5 * height]
    rest = []
    for piece in small:
        px, py, pw, ph = piece.box
        best, best_gap = None, 0.3 * height
        for target in big:
            tx, ty, tw, th = target.box
            gap = np.hypot(max(tx - (px + pw), px - (tx + tw), 0), max(ty - (py + ph), py - (ty + th), 0))
            union_w = max(px + pw, tx + tw) - min(px, tx)
            union_h = max(py + ph, ty + th) - min(py, ty)
            if gap <= best_gap and union_h <= 1.5 * height and union_w <= 1.3 * max(height, union_h):
                best, best_gap = target, gap
        if best is None:
            rest.append(piece)
        else:
            big[big.index(best)] = _merge(best, piece)
    return big + rest


def _merge(a: _Region, b: _Region) -> _Region:
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    x0, y0 = min(ax, bx), min(ay, by)
    x1, y1 = max(ax + aw, bx + bw), max(ay + ah, by + bh)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    mask[ay - y0 : ay - y0 + ah, ax - x0 : ax - x0 + aw] |= a.mask
    mask[by - y0 : by - y0 + bh, bx - x0 : bx - x0 + bw] |= b.mask
    return _Region((x0, y0, x1 - x0, y1 - y0), mask)


def _split_wide(region: _Region) -> list[_Region]:
    """A region much wider than tall, cut where touching digits touch
    (``preprocess.split_touching``, the canvas's rule)."""
    x, y, _, h = region.box
    spans = split_touching(region.mask)
    if len(spans) <= 1:
        return [region]
    return [_tight(_Region((x + a, y, b - a, h), region.mask[:, a:b])) for a, b in spans]


def _tight(region: _Region) -> _Region:
    """The region with its box shrunk to its ink."""
    ys, xs = np.nonzero(region.mask)
    if len(xs) == 0:
        return region
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    x, y, _, _ = region.box
    return _Region((int(x + x0), int(y + y0), int(x1 - x0), int(y1 - y0)), region.mask[y0:y1, x0:x1], region.doubt)


def reading_order(boxes: list[tuple[int, int, int, int]]) -> list[int]:
    """Indices of ``boxes`` (x, y, w, h) in reading order: rows top to bottom, left to
    right within a row. A box joins the row whose right-most box it overlaps
    vertically by half the smaller height, so a tilted row stays one row."""
    rows: list[list[int]] = []
    for i in sorted(range(len(boxes)), key=lambda i: boxes[i][0]):
        x, y, w, h = boxes[i]
        best, best_overlap = None, 0.0
        for row in rows:
            rx, ry, rw, rh = boxes[row[-1]]
            overlap = min(y + h, ry + rh) - max(y, ry)
            if overlap >= 0.5 * min(h, rh) and overlap > best_overlap:
                best, best_overlap = row, overlap
        if best is None:
            rows.append([i])
        else:
            best.append(i)
    rows.sort(key=lambda row: np.mean([boxes[i][1] + boxes[i][3] / 2 for i in row]))
    return [i for row in rows for i in row]


# --- 6. To 28x28 --------------------------------------------------------------------------

def region_to_crop(region: _Region, dark: np.ndarray, stroke_px: float) -> DigitCrop:
    """One region -> DigitCrop in working coordinates, through the canvas's path.

    The region's darkness (float32) is kept under its mask grown by about a stroke
    width (the anti-aliased edges), stretched so the stroke cores reach 1, then
    normalised for stroke width and fitted into 28x28 like a canvas digit.
    """
    x, y, w, h = region.box
    grow = max(1, int(round(stroke_px / 2)))
    left, top = max(0, x - grow), max(0, y - grow)
    right, bottom = min(dark.shape[1], x + w + grow), min(dark.shape[0], y + h + grow)
    mask = np.zeros((bottom - top, right - left), np.uint8)
    mask[y - top : y - top + h, x - left : x - left + w] = region.mask
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    patch = dark[top:bottom, left:right]
    core = patch[mask > 0]
    strong = float(np.percentile(core, 90)) if core.size else 1.0
    floor = 0.25 * strong
    ink = np.where(mask > 0, np.clip((patch - floor) / max(1e-3, 0.8 * strong - floor), 0, 1), 0).astype(np.float32)
    ink, pad = normalise_stroke_width(ink)
    image, placement = fit_to_mnist(ink)
    if placement is None:
        placement = Placement(x, y, 1.0, 0, 0)
    else:
        placement = Placement(placement.x + left - pad, placement.y + top - pad, placement.scale,
                              placement.left, placement.top)
    return DigitCrop(region.box, image, placement, region.doubt)


def regions_image(rgb: np.ndarray, regions: list[_Region], dropped) -> np.ndarray:
    """The working copy with every region's box: uint8 (h, w, 3)."""
    out = rgb.copy()
    thickness = max(1, round(max(rgb.shape[:2]) / 500))
    for (x, y, w, h), _ in dropped:
        cv2.rectangle(out, (x, y), (x + w, y + h), DROPPED_COLOUR, 1)
    for r in regions:
        x, y, w, h = r.box
        colour = DOUBT_COLOUR if r.doubt else KEPT_COLOUR
        cv2.rectangle(out, (x - 2, y - 2), (x + w + 2, y + h + 2), colour, thickness)
    return out


# --- The whole pipeline -------------------------------------------------------------

def find_digits_in_photo(rgba: np.ndarray, work_side: int = WORK_SIDE) -> PhotoAnalysis:
    """Find and prepare the digits in a photo of paper.

    rgba: uint8 (H, W, 4) RGBA (or (H, W, 3) RGB) as ``images.decode_image`` returns.
    Returns a PhotoAnalysis whose crops are in reading order, with boxes and
    placements in the photo's own pixel coordinates.
    """
    small, scale = _downscale(np.asarray(rgba, np.uint8), work_side)
    rgb = _rgb(small)
    light_on_dark = ink_is_lighter(_grey(rgb))
    channel = ink_channel(rgb, light_on_dark)
    stroke_px = estimate_stroke_width(channel)
    # A window several strokes wide erases any stroke yet follows shadows closely.
    window = _odd(np.clip(4 * stroke_px + 6, 15, max(rgb.shape[:2]) / 3))
    background = paper_background(channel, window)
    dark = darkness(channel, background)
    floor = noise_floor(channel, background)
    flattened = np.clip(255 * (1 - dark), 0, 255).astype(np.uint8)
    dark, _ = remove_ruled_lines(dark, (dark > np.maximum(floor, 0.06)).astype(np.uint8), stroke_px)
    mask = threshold_ink(dark, floor, window=_odd(max(15, 6 * stroke_px)))
    regions, dropped = find_regions(mask, stroke_px)
    order = reading_order([r.box for r in regions])
    regions = [regions[i] for i in order]
    crops = [scale_crop(region_to_crop(r, dark, stroke_px), 1 / scale) for r in regions]
    return PhotoAnalysis(
        crops=crops,
        is_photo=True,
        scale=scale,
        light_on_dark=light_on_dark,
        stroke_px=stroke_px,
        rgb=rgb,
        background=background,
        flattened=flattened,
        ink=dark,
        binary=mask * 255,
        regions=regions_image(rgb, regions, dropped),
        dropped=[(tuple(int(round(v / scale)) for v in box), why) for box, why in dropped],
    )
