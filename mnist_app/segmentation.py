"""Which ink is which digit, and the order a person reads them in.

Shared by the canvas (``segment_digits``) and photos (``photo.find_digits_in_photo``):

1. pieces: connected components of the ink, the parts of one digit grouped
   (``group_digit_parts``: the bar of a 4, the hat of a 5; ``join_small_pieces``: a
   short stroke close beside a digit), blobs of digits written touching cut apart
   (``split_touching``);
2. checked by reading (``join_by_reading``): where two pieces could be one digit (a 0
   whose pen barely closed it, a 5 whose hat flew off to the right, a faint stroke
   broken in two), the network reads the whole and the parts, and the more probable
   reading is kept, biased towards one digit when the pieces overlap horizontally,
   nearly touch or one is a fragment of the other's size;
3. reading order (``reading_order``): lines as a person sees them, each left to right.

Conventions: a ``Region`` is a digit's ink in a box of its picture: ``box`` (x, y, w,
h) and ``mask`` uint8 (h, w) 0/1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from mnist_app.preprocess import (
    INK_THRESHOLD,
    DigitCrop,
    Placement,
    fit_to_mnist,
    ink_bbox,
    normalise_stroke_width,
    stroke_width,
)

@dataclass
class Region:
    """A digit's ink: ``box`` (x, y, w, h) in its picture's pixels, ``mask`` uint8 (h, w)
    0/1 inside it, ``doubt``: why it does not look like a digit (None when it does)."""

    box: tuple[int, int, int, int]
    mask: np.ndarray
    doubt: str | None = None


# --- 1. Pieces ---------------------------------------------------------------------

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


UPRIGHT_ONE_DIGIT = 1.1  # a blob no wider than this times its height, once upright, is one digit


def upright_width(mask: np.ndarray) -> float:
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


def _touching_cut(mask: np.ndarray) -> int | None:
    """Where to cut a tight bool mask (h, w) much wider than tall into two touching
    digits: a column with less than half the ink of a typical column, away from the
    ends, crossing the ink once (two digits touch at one place; a column through a
    wide 0 crosses it twice, and so does one through a 0 whose ends do not quite meet
    once gaps under a fifth of its height are closed), leaving two parts at least half
    the height tall (not a digit and its long flourish) and not slivers. None when
    there is no such column."""
    h, w = mask.shape
    if w <= 1.3 * h or w < 8 or upright_width(mask) <= UPRIGHT_ONE_DIGIT * h:
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


def tight(region: Region) -> Region:
    """The region with its box shrunk to its ink."""
    ys, xs = np.nonzero(region.mask)
    if len(xs) == 0:
        return region
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    x, y, _, _ = region.box
    return Region((int(x + x0), int(y + y0), int(x1 - x0), int(y1 - y0)), region.mask[y0:y1, x0:x1], region.doubt)


def merged(a: Region, b: Region) -> Region:
    """One region holding the ink of both (the first one's doubt kept)."""
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    x0, y0 = min(ax, bx), min(ay, by)
    x1, y1 = max(ax + aw, bx + bw), max(ay + ah, by + bh)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    mask[ay - y0 : ay - y0 + ah, ax - x0 : ax - x0 + aw] |= a.mask
    mask[by - y0 : by - y0 + bh, bx - x0 : bx - x0 + bw] |= b.mask
    return Region((x0, y0, x1 - x0, y1 - y0), mask, a.doubt)


def typical_height(regions: list[Region]) -> float:
    """The digits' height in px: the median of the regions at least 0.4 of the tallest's
    (so a 5's hat or a speck does not count)."""
    tallest = max(r.box[3] for r in regions)
    return float(np.median([r.box[3] for r in regions if r.box[3] >= 0.4 * tallest]))


def join_small_pieces(groups: list[Region], height: float) -> list[Region]:
    """Join each piece under half a digit tall (``height`` px) to the nearest digit close
    beside it, when the union stays digit-sized: a 5's hat drawn off to the right, the
    tail of a broken 7, the base of a 2 written as a stroke of its own. Returns the
    digits (grown) and then the pieces left alone."""
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
            big[big.index(best)] = merged(best, piece)
    return big + rest


# --- 2. Checked by reading -----------------------------------------------------------

# Two pieces are a candidate for one digit only when their ink comes within
# MAX_GAP_STROKES stroke widths and together they are shaped like one digit: upright no
# wider than UPRIGHT_ONE_DIGIT times their height (UPRIGHT_WITH_FRAGMENT when one is a
# fragment of the other's height or they overlap horizontally: a 5's hat flying off to
# the right, the two halves of a wide 0), no taller than MAX_UNION_HEIGHT times the
# taller piece.
MAX_GAP_STROKES = 5.0
MAX_UNION_HEIGHT = 2.2
UPRIGHT_WITH_FRAGMENT = 1.4
# Then the whole is read against the parts, with a bias in log-probability from how
# they lie: towards one digit when one piece is a fragment of the other's height (a
# 1's flag, a 5's hat), when they nearly touch (a stroke broken by a faint patch) and
# when they overlap horizontally (a 4's stem under its bar); towards two digits by
# default, and more when both pieces are of a size and each looks like a digit on its
# own (the network's checks, ``Recognizer.looks_like_digit``). Fitted on the pieces
# of single digits the pipeline used to split (MNIST and kensanata16 digits as scans)
# against neighbouring digits in photos of loosely written lines (MNIST digits);
# checked on the CVL forms: see docs/experiments.md, 2026-12-06.
FRAGMENT_HEIGHT = 0.6
NEARLY_TOUCHING_STROKES = 1.0
BIAS_FRAGMENT = 2.0
BIAS_NEARLY_TOUCHING = 2.0
BIAS_OVERLAP = 1.0
BIAS_APART = -1.0
BIAS_TWO_DIGITS = 1.0
# One piece right above the other with next to no blank rows between them (a 1's flag
# broken off its stem): lines of digits leave a clear band between them.
BIAS_STACKED = 2.0
STACKED_BAND = 0.15
CUT_GAP_PX = 1.5  # pieces this close were one blob, cut apart

# Reads MNIST-style inputs float32 (n, 28, 28) -> the top probability float32 (n,)
# and whether each looks like a digit at all, bool (n,) (``Recognizer.judge``).
Reader = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def ink_gap(a: Region, b: Region) -> float:
    """Shortest distance in px between the ink of two regions (0 when they touch)."""
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    x0, y0 = min(ax, bx), min(ay, by)
    x1, y1 = max(ax + aw, bx + bw), max(ay + ah, by + bh)
    away_from_a = np.ones((y1 - y0 + 2, x1 - x0 + 2), np.uint8)
    away_from_a[ay - y0 + 1 : ay - y0 + 1 + ah, ax - x0 + 1 : ax - x0 + 1 + aw] -= a.mask
    distance = cv2.distanceTransform(away_from_a, cv2.DIST_L2, 3)
    under_b = distance[by - y0 + 1 : by - y0 + 1 + bh, bx - x0 + 1 : bx - x0 + 1 + bw][b.mask > 0]
    return float(under_b.min()) if under_b.size else float("inf")


@dataclass
class Candidate:
    """Two regions (indices) that could be one digit: ``whole`` their union, ``bias``
    the log-odds for one digit from how they lie, ``fragment`` whether one is a
    fragment of the other's height."""

    first: int
    second: int
    whole: Region
    bias: float
    fragment: bool


def candidate(a: Region, b: Region, first: int, second: int, stroke_px: float,
              digit_height: float | None = None) -> Candidate | None:
    """The pair as a Candidate for one digit, or None when it cannot be one (too far
    apart, or together not shaped like one digit). A piece is a fragment when under
    FRAGMENT_HEIGHT of the other's height, or of ``digit_height`` (the picture's typical
    digit's) when given: in a line, a small digit beside two digits written as one blob
    is no fragment."""
    gap_px = ink_gap(a, b)
    gap = gap_px / max(1.0, stroke_px)
    if gap > MAX_GAP_STROKES:
        return None
    whole = merged(a, b)
    _, _, whole_w, whole_h = whole.box
    (ax, ay, aw, ah), (bx, by, bw, bh) = a.box, b.box
    fragment = min(ah, bh) < FRAGMENT_HEIGHT * (max(ah, bh) if digit_height is None else digit_height)
    if whole_h > MAX_UNION_HEIGHT * max(ah, bh):
        return None
    if gap_px <= CUT_GAP_PX:
        # One blob cut where digits seemed to touch (``split_touching``): the reading
        # alone weighs the cut against the whole (a flat 0 read as "67").
        return Candidate(first, second, whole, 0.0, fragment)
    overlap_x = min(ax + aw, bx + bw) - max(ax, bx)
    widest = UPRIGHT_WITH_FRAGMENT if fragment or overlap_x > 0.1 * min(aw, bw) else UPRIGHT_ONE_DIGIT
    if whole_w > widest * whole_h and upright_width(whole.mask) > widest * whole_h:
        return None
    band = max(ay, by) - min(ay + ah, by + bh)  # blank rows between them (negative: they overlap)
    bias = BIAS_APART + BIAS_FRAGMENT * fragment + BIAS_NEARLY_TOUCHING * (gap <= NEARLY_TOUCHING_STROKES) + \
        BIAS_OVERLAP * (overlap_x > 0) + \
        BIAS_STACKED * (overlap_x > 0.3 * min(aw, bw) and band <= STACKED_BAND * max(ah, bh))
    return Candidate(first, second, whole, bias, fragment)


def join_by_reading(regions: list[Region], to_crop: Callable[[Region], DigitCrop], read: Reader,
                    stroke_px: float) -> list[tuple[Region, DigitCrop]]:
    """Regions joined where the network reads them better as one digit, each with its crop.

    Every pair of regions that could be one digit (``candidate``) is read whole; the
    pair whose whole is most probable against its parts read as two digits
    (log p(whole) + bias > log p(first) + log p(second), p the top probability; the
    bias lowered by BIAS_TWO_DIGITS when both parts look like digits and neither is a
    fragment) is joined, and the pairs are weighed again until none is. ``to_crop``
    makes a region's model input (as the page that found it does); ``read`` reads
    crops (``Reader``).
    """
    items = [(r, to_crop(r)) for r in regions]
    if len(items) < 2:
        return items
    # With three pieces or more, the typical digit's height is theirs (the median of
    # those at least half the tallest's); with two, each is measured against the other.
    heights = [r.box[3] for r in regions]
    digit_height = float(np.median([h for h in heights if h >= 0.5 * max(heights)])) if len(regions) >= 3 else None
    top, looks = read(np.stack([c.image for _, c in items]))
    log_top, looks = list(np.log(np.maximum(top, 1e-12))), list(looks)
    weighed: dict[tuple[int, int], tuple[Candidate, DigitCrop, float, bool]] = {}
    pending = [(i, j) for i in range(len(items)) for j in range(i + 1, len(items))]
    alive = set(range(len(items)))
    while True:
        found = [c for c in (candidate(items[i][0], items[j][0], i, j, stroke_px, digit_height)
                             for i, j in pending) if c]
        if found:
            crops = [to_crop(c.whole) for c in found]
            top, look = read(np.stack([crop.image for crop in crops]))
            for c, crop, p, ok in zip(found, crops, top, look):
                weighed[c.first, c.second] = (c, crop, float(np.log(max(p, 1e-12))), bool(ok))
        best, best_margin = None, 0.0
        for (i, j), (c, _, log_whole, _) in weighed.items():
            two_digits = not c.fragment and looks[i] and looks[j]
            margin = log_whole + c.bias - BIAS_TWO_DIGITS * two_digits - log_top[i] - log_top[j]
            if margin > best_margin:
                best, best_margin = (i, j), margin
        if best is None:
            break
        c, crop, log_whole, ok = weighed[best]
        items.append((c.whole, crop))
        log_top.append(log_whole)
        looks.append(ok)
        alive -= set(best)
        weighed = {key: value for key, value in weighed.items() if not set(key) & set(best)}
        new = len(items) - 1
        pending = [(k, new) for k in sorted(alive)]
        alive.add(new)
    return [items[k] for k in sorted(alive)]


# --- 3. Reading order --------------------------------------------------------------

STACKED_OVERLAP = 0.3  # of the narrower box's width: one box stands over the other
LINE_BAND = 1.5  # neighbours in a line have no blank band between them taller than this times the taller
NO_LINK = 1e6


def _stacked(a, b) -> bool:
    """Does one box (x, y, w, h) stand above or below the other: their horizontal
    extents overlap by over half the narrower's width, their vertical ones by under a
    quarter of the shorter's height (so not side by side)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    overlap_x = min(ax + aw, bx + bw) - max(ax, bx)
    overlap_y = min(ay + ah, by + bh) - max(ay, by)
    return overlap_x > STACKED_OVERLAP * min(aw, bw) and overlap_y < 0.25 * min(ah, bh)


MAX_TILT = 20.0  # degrees a sheet may be turned for ``_level`` to take it out
LEVEL_PAIRS = 3  # level neighbours needed to trust their angle (a loose line has few, at random angles)


def _level(boxes: list[tuple[int, int, int, int]]) -> list[tuple[float, float, float, float]]:
    """The boxes (x, y, w, h) with the page's tilt taken out: their centres turned back
    by the median angle from each box to its nearest neighbour on the right that sits
    level with it (overlapping it vertically by half the shorter's height), within
    MAX_TILT degrees; sizes kept. With fewer than LEVEL_PAIRS such pairs, as they are."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    angles = []
    for i in range(len(b)):
        right = [j for j in range(len(b)) if cx[j] > cx[i] and
                 min(b[i, 1] + b[i, 3], b[j, 1] + b[j, 3]) - max(b[i, 1], b[j, 1]) > 0.5 * min(b[i, 3], b[j, 3])]
        if right:
            j = min(right, key=lambda j: cx[j])
            angle = np.degrees(np.arctan2(cy[j] - cy[i], cx[j] - cx[i]))
            if abs(angle) <= MAX_TILT:
                angles.append(angle)
    if len(angles) < LEVEL_PAIRS:
        return [tuple(map(float, box)) for box in b]
    tilt = np.radians(float(np.median(angles)))
    level_x = cx * np.cos(tilt) + cy * np.sin(tilt)
    level_y = -cx * np.sin(tilt) + cy * np.cos(tilt)
    return [(float(x - w / 2), float(y - h / 2), float(w), float(h))
            for x, y, w, h in zip(level_x, level_y, b[:, 2], b[:, 3])]


def reading_order(boxes: list[tuple[int, int, int, int]]) -> list[int]:
    """Indices of ``boxes`` (x, y, w, h) in reading order: lines top to bottom, each
    left to right, as a person reads them.

    A line is a chain of boxes left to right in which no box stands above or below
    another (``_stacked``) and neighbours have no blank band between them taller than
    ``LINE_BAND`` times the taller one. The lines are the fewest such chains that hold
    every box, and among those the ones whose neighbours sit closest in height and in
    distance (a minimum-cost assignment of each box's successor). So a line that
    wanders, climbs or falls stays one line whatever its digits' sizes, since none of
    its digits stands over another; a second line starts where one digit stands below
    another, or beyond a clear band. Lines are read top to bottom by their middle. All
    of it once the page's tilt is taken out (``_level``).
    """
    n = len(boxes)
    if n < 2:
        return list(range(n))
    boxes = _level(boxes)
    b = np.asarray(boxes, np.float64).reshape(n, 4)
    centre_x, centre_y = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    order = np.lexsort((np.arange(n), centre_x))
    rank = np.empty(n, int)
    rank[order] = np.arange(n)
    cost = np.full((n, n), NO_LINK)
    for i in range(n):
        for j in range(n):
            if rank[j] <= rank[i] or _stacked(boxes[i], boxes[j]):
                continue
            taller, mean_h = max(b[i, 3], b[j, 3]), (b[i, 3] + b[j, 3]) / 2
            band = max(b[i, 1], b[j, 1]) - min(b[i, 1] + b[i, 3], b[j, 1] + b[j, 3])
            if band > LINE_BAND * taller:
                continue
            gap_x = max(0.0, b[j, 0] - (b[i, 0] + b[i, 2]))
            cost[i, j] = (abs(centre_y[j] - centre_y[i]) + 0.5 * gap_x) / mean_h
    successor = _successors(cost)
    has_predecessor = np.zeros(n, bool)
    has_predecessor[[j for j in successor if j >= 0]] = True
    lines = []
    for start in order:
        if has_predecessor[start]:
            continue
        line, k = [], int(start)
        while k >= 0:
            line.append(k)
            k = successor[k]
        lines.append(line)
    lines.sort(key=lambda line: float(np.median(centre_y[line])))
    return [i for line in lines for i in line]


def _successors(cost: np.ndarray) -> list[int]:
    """Each box's successor in its line (-1: none), linking as many boxes as can be
    (the fewest lines), then at the least total cost: cost float (n, n), ``NO_LINK``
    where j cannot follow i. A minimum-cost assignment of rows to the n successors
    and n "no successor" columns (the Hungarian method, shortest augmenting paths);
    every link is worth ``n * NO_LINK`` less than no link, so the count comes first.
    Written out rather than taken from SciPy, whose import alone would add ~50 MB to
    every app server for this one call."""
    n = len(cost)
    big = float(n) * NO_LINK
    full = np.hstack([np.where(cost < NO_LINK, cost - big, NO_LINK * 4 * n), np.zeros((n, n))])
    m = 2 * n
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, int)  # column -> row (1-based), 0: free
    way = np.zeros(m + 1, int)
    for row in range(1, n + 1):
        owner[0] = row
        column = 0
        shortest = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[column] = True
            r = owner[column]
            reduced = full[r - 1] - u[r] - v[1:]
            better = ~used[1:] & (reduced < shortest[1:])
            shortest[1:][better] = reduced[better]
            way[1:][better] = column
            free = np.where(used[1:], np.inf, shortest[1:])
            nxt = int(np.argmin(free)) + 1
            delta = free[nxt - 1]
            u[owner[used]] += delta
            v[used] -= delta
            shortest[~used] -= delta
            column = nxt
            if owner[column] == 0:
                break
        while column:
            previous = way[column]
            owner[column] = owner[previous]
            column = previous
    successor = [-1] * n
    for column in range(1, n + 1):
        row = owner[column]
        if row and cost[row - 1, column - 1] < NO_LINK:
            successor[row - 1] = column - 1
    return successor


# --- The canvas's segmentation ----------------------------------------------------------

def segment_digits(ink: np.ndarray, read: Reader | None = None, normalise_width: bool = True) -> list[DigitCrop]:
    """Split an ink image into digits, in reading order.

    ink: float32 (H, W) in [0, 1]. Connected components of the ink (8-connected),
    specks dropped, parts of one digit grouped (``group_digit_parts``), digits
    written touching each other cut apart (``split_touching``), dots dropped, short
    strokes close beside a digit joined to it (``join_small_pieces``), marks too small
    to be a digit dropped; with ``read``, pieces that read better as
    one digit joined (``join_by_reading``). Each digit is masked out of the image, its
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
    pieces = []
    for group in group_digit_parts(stats[keep]):
        members = [keep[g] for g in group]
        x0 = min(stats[m, 0] for m in members)
        y0 = min(stats[m, 1] for m in members)
        x1 = max(stats[m, 0] + stats[m, 2] for m in members)
        y1 = max(stats[m, 1] + stats[m, 3] for m in members)
        group_mask = np.isin(labels[y0:y1, x0:x1], [m + 1 for m in members]).astype(np.uint8)
        for a, b in split_touching(group_mask):  # boxes in the ink's coordinates
            box = (int(x0 + inked_x + a), int(y0 + inked_y), int(b - a), int(y1 - y0))
            pieces.append(tight(Region(box, group_mask[:, a:b])))
    # A dot: hardly longer than the pen is wide.
    pieces = [p for p in pieces if max(p.box[2], p.box[3]) >= max(6.0, 1.5 * width)]
    if not pieces:
        return []
    tallest = max(piece.box[3] for piece in pieces)
    height = typical_height(pieces)
    # A short stroke close beside a digit is part of it (the base of a 2 written on
    # its own); one that is not, a tiny scribble no longer than a couple of stroke
    # widths or a mark under a third of the digits' height, is no digit (a scan's
    # sliver of its neighbour).
    regions = [p for p in join_small_pieces(pieces, height)
               if max(p.box[2], p.box[3]) >= max(6.0, 2.5 * width, 0.3 * tallest)]

    def to_crop(region: Region) -> DigitCrop:
        return _ink_to_crop(ink, region, normalise_width)

    return [crop for _, crop in digits_in_reading_order(regions, to_crop, read, width)]


def digits_in_reading_order(regions: list[Region], to_crop: Callable[[Region], DigitCrop], read: Reader | None,
                            stroke_px: float) -> list[tuple[Region, DigitCrop]]:
    """The digits a picture's regions hold, each with its crop, in reading order: joined
    where they read better as one (``join_by_reading``) when ``read`` is given, as they
    are otherwise."""
    found = join_by_reading(regions, to_crop, read, stroke_px) if read is not None else \
        [(r, to_crop(r)) for r in regions]
    return [found[i] for i in reading_order([r.box for r, _ in found])]


def _ink_to_crop(ink: np.ndarray, region: Region, normalise_width: bool) -> DigitCrop:
    """One region of a drawing's ink -> DigitCrop: its ink masked out (the mask grown a
    little so the strokes' anti-aliased edges come along), stroke width normalised,
    fitted MNIST-style."""
    x0, y0, w, h = region.box
    left, top = max(0, x0 - 3), max(0, y0 - 3)
    right, bottom = min(ink.shape[1], x0 + w + 3), min(ink.shape[0], y0 + h + 3)
    grown = np.zeros((bottom - top, right - left), np.uint8)
    grown[y0 - top : y0 - top + h, x0 - left : x0 - left + w] = region.mask
    grown = cv2.dilate(grown, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    digit_ink = np.where(grown > 0, ink[top:bottom, left:right], 0).astype(np.float32)
    pad = 0
    if normalise_width:
        digit_ink, pad = normalise_stroke_width(digit_ink)
    image, placement = fit_to_mnist(digit_ink)
    # Placement of the crop -> placement in the whole source image.
    placement = Placement(placement.x + left - pad, placement.y + top - pad, placement.scale,
                          placement.left, placement.top)
    return DigitCrop(region.box, image, placement, region.doubt)
