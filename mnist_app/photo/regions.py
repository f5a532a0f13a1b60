"""Photo stage 5: digit regions in the ink mask (the order a person reads them in, and
which pieces are one digit, are ``segmentation``'s, shared with the canvas)."""

from __future__ import annotations

import cv2
import numpy as np

from mnist_app.photo.pixels import odd_size
from mnist_app.segmentation import (Region, group_digit_parts, join_small_pieces, split_touching, tight,
                                    typical_height)


def find_regions(mask: np.ndarray, stroke_px: float,
                 dark: np.ndarray | None = None) -> tuple[list[Region], list[tuple[tuple[int, int, int, int], str]]]:
    """Digit regions of a uint8 0/1 ink mask, and the boxes dropped with a reason.

    Components of the mask after a closing about one stroke wide (re-joining a
    stroke broken by a highlight or a faint patch); specks and anything huge at the
    photo's border (the sheet's edge, the table) dropped; the rest grouped like the
    canvas's (``segmentation.group_digit_parts``: a 4's bar, a 5's hat), with small
    pieces joined to the digit just beside them. The typical digit height is the
    median among the tall regions; against it, dots and dashes are dropped, straight
    lines too, regions much wider than tall split (touching digits), and odd sizes
    and shapes flagged (``Region.doubt``). With the photo's darkness ``dark`` (float32
    (H, W)), a mark much smaller and much fainter than the digits is dropped too (the
    table where a shadow's edge meets the sheet's).
    """
    h_img, w_img = mask.shape
    join = odd_size(max(3, stroke_px))
    joined = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (join, join)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    dropped: list[tuple[tuple[int, int, int, int], str]] = []

    def touches_edge(box) -> bool:
        x, y, w, h = box
        return x <= 1 or y <= 1 or x + w >= w_img - 1 or y + h >= h_img - 1

    def in_a_corner(box) -> bool:  # touching two sides that meet
        x, y, w, h = box
        return (x <= 1 or x + w >= w_img - 1) and (y <= 1 or y + h >= h_img - 1)

    def near_edge(box) -> bool:
        x, y, w, h = box
        margin = 0.05 * min(w_img, h_img)
        return x < margin or y < margin or x + w > w_img - margin or y + h > h_img - margin

    min_area = max(6.0, 1.5 * stroke_px * stroke_px)
    keep, filling = [], []  # filling: at the edge, but like a close-up's digit
    for i in range(1, count):
        box = tuple(int(v) for v in stats[i, :4])
        area = int(stats[i, 4])
        if area < min_area or max(box[2], box[3]) < 2.5 * stroke_px:
            if area >= 4:
                dropped.append((box, "speck"))
        elif touches_edge(box) and (box[2] > 0.5 * w_img or box[3] > 0.5 * h_img or
                                    min(box[2], box[3]) <= 2 * stroke_px and max(box[2], box[3]) >= 5 * stroke_px):
            if digit_filling_the_picture(_component_ink(labels, i, box, mask), box, mask.shape):
                filling.append(i)
            else:
                dropped.append((box, "edge of the sheet"))  # or a sliver of the table beyond it
        else:
            keep.append(i)
    # A close-up: what touches the edge is most of the ink, not the table around a
    # page of digits.
    close_up = sum(stats[i, 4] for i in filling) > 2 * sum(stats[i, 4] for i in keep)
    if close_up:
        keep += filling
    else:
        dropped += [(tuple(int(v) for v in stats[i, :4]), "edge of the sheet") for i in filling]
    if not keep:
        return [], dropped
    # Typical digit height before grouping, so that digits in two rows, one above
    # the other, are not grouped as one (their union would be far too tall).
    inner_heights = [stats[i, 3] for i in keep if not touches_edge(tuple(stats[i, :4]))] or \
        [stats[i, 3] for i in keep]
    rough_height = float(np.median([h for h in inner_heights if h >= 0.4 * max(inner_heights)]))
    grouped = []
    for group in group_digit_parts(stats[keep]):
        members = [keep[g] for g in group]
        top = min(stats[m, 1] for m in members)
        bottom = max(stats[m, 1] + stats[m, 3] for m in members)
        # Two digits one above the other span twice the taller one; a digit's parts
        # (a 5's hat over its body) span less than 1.6 times its taller part.
        tallest_part = max(stats[m, 3] for m in members)
        one_digit = bottom - top <= max(1.5 * rough_height, 1.6 * tallest_part)
        grouped.extend([members] if one_digit else [[m] for m in members])
    groups = []
    for members in grouped:
        x0 = min(stats[m, 0] for m in members)
        y0 = min(stats[m, 1] for m in members)
        x1 = max(stats[m, 0] + stats[m, 2] for m in members)
        y1 = max(stats[m, 1] + stats[m, 3] for m in members)
        region_mask = np.isin(labels[y0:y1, x0:x1], members).astype(np.uint8) & mask[y0:y1, x0:x1]
        groups.append(Region((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), region_mask))

    height = typical_height([r for r in groups if not touches_edge(r.box)] or groups)
    groups = join_small_pieces(groups, height)

    regions: list[Region] = []
    for r in groups:
        x, y, w, h = r.box
        fill = r.mask.sum() / max(1, w * h)
        if max(w, h) < 0.3 * height or h < 0.25 * height:
            dropped.append((r.box, "speck or dash"))
        elif touches_edge(r.box) and not (0.5 * height < h < 1.6 * height and w < 1.6 * h and 0.12 < fill < 0.5
                                          and not in_a_corner(r.box)
                                          or close_up and digit_filling_the_picture(r.mask, r.box, mask.shape)):
            # In a corner, a digit-sized piece is the table or a shadow's edge, not a digit cut
            # by the frame, unless it fills a close-up.
            dropped.append((r.box, "edge of the sheet"))
        elif max(w, h) > 1.3 * height and _thickness(r.mask) < 2.5 * stroke_px \
                and not (h > 1.5 * w and h < 2 * height):  # a 1 written large stands upright
            dropped.append((r.box, "straight line"))
        elif near_edge(r.box) and max(w, h) > 4 * stroke_px and _thickness(r.mask) < 1.5 * stroke_px \
                and not (close_up and digit_filling_the_picture(r.mask, r.box, mask.shape)):
            dropped.append((r.box, "edge of the sheet"))  # a sliver of table along it
        elif (h < 0.6 * height or w > 1.3 * h and _solidity(r.mask) > 0.85) \
                and _widest_point(r.mask) > 2.2 * stroke_px:
            dropped.append((r.box, "solid patch"))  # a wedge of table or shadow, not pen strokes
        elif near_edge(r.box) and h < 0.55 * height:
            dropped.append((r.box, "edge of the sheet"))  # a bit of table where a shadow meets the sheet
        elif h > 0.55 * height and w > 1.3 * h:
            regions.extend(_split_wide(r))
        else:
            regions.append(r)
    if dark is not None and regions:
        regions, faint = _without_faint_marks(regions, dark, height)
        dropped += [(r.box, "faint mark") for r in faint]
        regions, shaded = _without_shaded_edges(regions, dark, mask, stroke_px)
        dropped += [(r.box, "edge of a shadow or the table") for r in shaded]
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


def _without_faint_marks(regions: list[Region], dark: np.ndarray, height: float) -> tuple[list[Region], list[Region]]:
    """(kept, dropped): regions under 0.55 of the digit height whose darkest ink
    (90th percentile under their mask) is under 0.6 of the digits' (the median over
    the digit-sized regions): not written in the same ink."""
    def darkness(r: Region) -> float:
        x, y, w, h = r.box
        return float(np.percentile(dark[y : y + h, x : x + w][r.mask > 0], 90))

    full = [darkness(r) for r in regions if r.box[3] >= 0.55 * height]
    if not full:
        return regions, []
    typical = float(np.median(full))
    is_faint = [r.box[3] < 0.55 * height and darkness(r) < 0.6 * typical for r in regions]
    return ([r for r, faint in zip(regions, is_faint) if not faint],
            [r for r, faint in zip(regions, is_faint) if faint])


SHADED_SURROUNDINGS = 0.18  # of a region's own darkness: pen strokes stayed under 0.16 in 900 photos


def surroundings_darkness(region: Region, dark: np.ndarray, mask: np.ndarray, stroke_px: float) -> float:
    """How dark the paper just around a region is, against the region's own ink: the
    90th percentile of ``dark`` (float32 (H, W)) in a ring half a stroke to 1.5 strokes
    beyond its ink, leaving out any ink of ``mask`` (uint8 (H, W) 0/1: a neighbour's
    strokes), over the 90th percentile under its ink. A pen stroke lies on paper,
    near 0; a piece of table or of a shadow's edge fades into more darkness on one
    side (where a shadow's edge meets the sheet's, a wedge of the table beyond)."""
    x, y, w, h = region.box
    reach = int(np.ceil(1.5 * stroke_px)) + 1
    x0, y0 = max(0, x - reach), max(0, y - reach)
    x1, y1 = min(dark.shape[1], x + w + reach), min(dark.shape[0], y + h + reach)
    ink = np.zeros((y1 - y0, x1 - x0), np.uint8)
    ink[y - y0 : y - y0 + h, x - x0 : x - x0 + w] = region.mask
    near = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (odd_size(stroke_px + 2),) * 2))
    far = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (odd_size(3 * stroke_px + 2),) * 2))
    patch = dark[y0:y1, x0:x1]
    ring = (far > 0) & (near == 0) & (mask[y0:y1, x0:x1] == 0)
    if not ring.any() or not ink.any():
        return 0.0
    return float(np.percentile(patch[ring], 90) / max(1e-3, np.percentile(patch[ink > 0], 90)))


def _without_shaded_edges(regions: list[Region], dark: np.ndarray, mask: np.ndarray,
                          stroke_px: float) -> tuple[list[Region], list[Region]]:
    """(kept, dropped): regions whose surroundings are dark (``surroundings_darkness``
    over ``SHADED_SURROUNDINGS``) while the other regions' are not (1.5 times as dark):
    a blurred photo darkens every digit's surroundings alike, and keeps them all."""
    if len(regions) < 2:
        return regions, []
    shade = np.array([surroundings_darkness(r, dark, mask, stroke_px) for r in regions])
    typical = float(np.median(shade))
    dropped = (shade > SHADED_SURROUNDINGS) & (shade > 1.5 * typical)
    return ([r for r, d in zip(regions, dropped) if not d], [r for r, d in zip(regions, dropped) if d])


def digit_filling_the_picture(piece: np.ndarray, box, picture_shape) -> bool:
    """Is this piece of ink touching the picture's edge a close-up's digit, not the
    table, a shadow or the sheet's edge?

    piece: uint8 (h, w) 0/1, its ink in ``box`` (x, y, w, h) of a picture of
    ``picture_shape`` (H, W). A digit filling a close-up spans over half the picture's
    height or width, is shaped like a digit (from a 1 to a wide 2) and is made of pen
    strokes, which leave much of their convex hull empty or enclose a loop (a wedge of
    table or shadow fills its hull and has no hole). A 1 fills its hull, like a sliver of table, but stands away from
    the picture's sides, where the table's slivers run.
    """
    x, y, w, h = box
    height, width = picture_shape
    # Where the piece meets the picture's edge: a digit touches it with a stroke's end
    # or a curve's extreme; the table around a sheet runs along it.
    contacts = [piece[:, 0].sum() / height if x <= 1 else 0, piece[0].sum() / width if y <= 1 else 0,
                piece[:, -1].sum() / height if x + w >= width - 1 else 0,
                piece[-1].sum() / width if y + h >= height - 1 else 0]
    if sum(contacts) > 1.0 or max(contacts) > 0.8 or not (h > 0.5 * height or w > 0.5 * width) \
            or not 0.1 * h < w < 2 * h:
        return False
    if w < 0.35 * h:  # a 1
        return x > 0.1 * width and x + w < 0.9 * width
    fill = piece.sum() / max(1, w * h)
    return 0.12 < fill < 0.65 and (_solidity(piece) < 0.88 or _has_a_hole(piece))


def _has_a_hole(piece: np.ndarray) -> bool:
    """Does the uint8 0/1 ink enclose paper (the loop of a 0, 6, 8, 9 or 4): more than a
    speck, less than half its box (the table framing a sheet encloses the sheet)?"""
    contours, hierarchy = cv2.findContours(piece, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return False
    holes = [c for c, h in zip(contours, hierarchy[0]) if h[3] >= 0]
    return any(0.01 * piece.sum() <= cv2.contourArea(c) <= 0.45 * piece.size for c in holes)


def _component_ink(labels: np.ndarray, index: int, box, mask: np.ndarray) -> np.ndarray:
    """uint8 (h, w) 0/1: the ink of mask under component ``index`` of ``labels``, in its box."""
    x, y, w, h = box
    return ((labels[y : y + h, x : x + w] == index) & (mask[y : y + h, x : x + w] > 0)).astype(np.uint8)


def _widest_point(mask: np.ndarray) -> float:
    """Diameter in px of the largest disk that fits in a uint8 0/1 mask's ink: about
    the stroke width for pen strokes, much more for a solid patch."""
    distance = cv2.distanceTransform(cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0),
                                     cv2.DIST_L2, 3)
    return 2 * float(distance.max())


def _solidity(mask: np.ndarray) -> float:
    """How much of its convex hull a uint8 0/1 mask's ink fills: near 1 for a solid
    patch, far less for pen strokes (a 1 aside)."""
    points = cv2.findNonZero(mask)
    hull = cv2.contourArea(cv2.convexHull(points)) if points is not None else 0.0
    return float(mask.sum() / max(hull, 1.0))


def _thickness(mask: np.ndarray) -> float:
    """The short side of the smallest rotated rectangle around a uint8 0/1 mask's ink."""
    points = cv2.findNonZero(mask)
    if points is None:
        return 0.0
    (_, _), (a, b), _ = cv2.minAreaRect(points)
    return float(min(a, b))


def _split_wide(region: Region) -> list[Region]:
    """A region much wider than tall, cut where touching digits touch
    (``segmentation.split_touching``, the canvas's rule)."""
    x, y, _, h = region.box
    spans = split_touching(region.mask)
    if len(spans) <= 1:
        return [region]
    return [tight(Region((x + a, y, b - a, h), region.mask[:, a:b])) for a, b in spans]
