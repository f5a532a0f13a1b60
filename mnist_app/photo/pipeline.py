"""The whole photo pipeline (stages 1-6, see ``mnist_app.photo``), telling photos
from drawings, and the pictures that show how a photo was read."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_app.photo.light import (
    darkness,
    estimate_stroke_width,
    ink_channel,
    ink_is_lighter,
    noise_floor,
    paper_background,
)
from mnist_app.photo.lines import remove_ruled_lines
from mnist_app.photo.pixels import as_rgb, downscale, odd_size, to_grey
from mnist_app.photo.regions import find_regions
from mnist_app.photo.threshold import threshold_ink
from mnist_app.preprocess import (
    DigitCrop,
    Placement,
    fit_to_mnist,
    ink_from_picture,
    normalise_stroke_width,
    stroke_width,
)
from mnist_app.segmentation import Reader, Region, digits_in_reading_order, segment_digits

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
    grey = to_grey(as_rgb(image[::step, ::step]))
    histogram = np.bincount(grey.ravel(), minlength=256)
    mode = int(histogram.argmax())
    flat_share = histogram[max(0, mode - 2) : mode + 3].sum() / grey.size
    return bool(flat_share < 0.5)


def crops_from_picture(rgba: np.ndarray, read: Reader | None = None) -> list[DigitCrop]:
    """The digits in any picture, in reading order, ready for the model.

    uint8 (H, W, 4) RGBA as ``images.decode_image`` returns. Drawings go through
    ``segmentation.segment_digits``, photos through ``find_digits_in_photo``; with
    ``read`` (the network), pieces that read better as one digit are joined.
    """
    if looks_like_photo(rgba):
        return find_digits_in_photo(rgba, read=read).crops
    return segment_digits(ink_from_picture(rgba), read)


def analyse_picture(rgba: np.ndarray, work_side: int = WORK_SIDE, read: Reader | None = None) -> PhotoAnalysis:
    """``crops_from_picture`` with the intermediate images, for showing how a picture
    was read: a photo's analysis, or for a drawing its ink and regions."""
    if looks_like_photo(rgba):
        return find_digits_in_photo(rgba, work_side, read)
    ink = ink_from_picture(rgba)
    crops = segment_digits(ink, read)
    small, scale = downscale(np.asarray(rgba, np.uint8), work_side)
    rgb = as_rgb(small)
    small_ink, _ = downscale(ink, work_side)
    binary = (small_ink > 0.25).astype(np.uint8) * 255
    regions = [Region(scale_crop(c, scale).box, np.zeros((0, 0), np.uint8), c.doubt) for c in crops]
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
    pad = thickness + 2  # between a digit and its box
    for (x, y, w, h), flag in zip(boxes, flagged):
        cv2.rectangle(out, (x - pad, y - pad), (x + w + pad, y + h + pad), DOUBT_COLOUR if flag else KEPT_COLOUR,
                      thickness)
    # Labels by Pillow: OpenCV's text functions cost ~20 ms the first time in each thread,
    # and Streamlit runs every page run in a thread of its own.
    picture = Image.fromarray(out)
    draw = ImageDraw.Draw(picture)
    for (x, y, w, h), label, flag in zip(boxes, labels, flagged):
        text = f"{label}?" if flag else label
        font = _label_font(int(np.clip(round(0.7 * h), 14, 90)))
        _, text_top, text_right, text_bottom = draw.textbbox((0, 0), text, font=font)
        label_w, label_h = text_right + 2 * thickness, text_bottom - text_top + 2 * thickness
        top = y - pad - label_h - 1
        if top < 0:  # no room above: label below the box
            top = y + h + pad + 1
        left = int(np.clip(x - pad, 0, max(0, out.shape[1] - label_w)))
        draw.rectangle((left, top, left + label_w, top + label_h), fill=DOUBT_COLOUR if flag else KEPT_COLOUR)
        draw.text((left + thickness, top + thickness - text_top), text, fill=(255, 255, 255), font=font)
    return np.asarray(picture).copy()


@functools.lru_cache(maxsize=32)
def _label_font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size_px)


def scale_crop(crop: DigitCrop, factor: float) -> DigitCrop:
    """A crop with its box and placement in coordinates multiplied by ``factor``."""
    x, y, w, h = crop.box
    box = (int(round(x * factor)), int(round(y * factor)), max(1, int(round(w * factor))),
           max(1, int(round(h * factor))))
    p = crop.placement
    # Placement keeps integer source corners; the rounding is under one source pixel.
    placement = Placement(int(round(p.x * factor)), int(round(p.y * factor)), p.scale / factor, p.left, p.top)
    return DigitCrop(box, crop.image, placement, crop.doubt)


# --- 6. To 28x28 --------------------------------------------------------------------------

def region_to_crop(region: Region, dark: np.ndarray, stroke_px: float) -> DigitCrop:
    """One region -> DigitCrop in working coordinates, through the canvas's path.

    The region's darkness (float32) is kept under its mask grown by about a stroke
    width (the anti-aliased edges), scaled so its 99th percentile reaches 1, then
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
    # Scaled, as a drawing's ink is (preprocess.ink_from_picture), so the strokes keep their
    # grey profile; only the darkest 1% clip, as a photo's noise can hold a speck darker
    # than any stroke.
    strong = float(np.percentile(core, 99)) if core.size else 1.0
    floor = 0.25 * strong
    ink = np.where(mask > 0, np.clip((patch - floor) / max(1e-3, strong - floor), 0, 1), 0).astype(np.float32)
    ink, pad = normalise_stroke_width(ink)
    image, placement = fit_to_mnist(ink)
    if placement is None:
        placement = Placement(x, y, 1.0, 0, 0)
    else:
        placement = Placement(placement.x + left - pad, placement.y + top - pad, placement.scale,
                              placement.left, placement.top)
    return DigitCrop(region.box, image, placement, region.doubt)


def regions_image(rgb: np.ndarray, regions: list[Region], dropped) -> np.ndarray:
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

def find_digits_in_photo(rgba: np.ndarray, work_side: int = WORK_SIDE, read: Reader | None = None) -> PhotoAnalysis:
    """Find and prepare the digits in a photo of paper.

    rgba: uint8 (H, W, 4) RGBA (or (H, W, 3) RGB) as ``images.decode_image`` returns;
    read: the network, to join pieces that read better as one digit
    (``segmentation.join_by_reading``; None: as found).
    Returns a PhotoAnalysis whose crops are in reading order, with boxes and
    placements in the photo's own pixel coordinates.
    """
    small, scale = downscale(np.asarray(rgba, np.uint8), work_side)
    rgb = as_rgb(small)
    light_on_dark = ink_is_lighter(to_grey(rgb))
    channel = ink_channel(rgb, light_on_dark)
    stroke_px = estimate_stroke_width(channel)
    # A window several strokes wide erases any stroke yet follows shadows closely.
    window = odd_size(np.clip(4 * stroke_px + 6, 15, max(rgb.shape[:2]) / 3))
    background = paper_background(channel, window)
    dark = darkness(channel, background)
    floor = noise_floor(channel, background)
    flattened = np.clip(255 * (1 - dark), 0, 255).astype(np.uint8)
    dark, _ = remove_ruled_lines(dark, (dark > np.maximum(floor, 0.06)).astype(np.uint8), stroke_px)
    mask = threshold_ink(dark, floor, window=odd_size(max(15, 6 * stroke_px)), light_stretches=True)
    regions, dropped = find_regions(mask, stroke_px, dark)

    def to_crop(region: Region) -> DigitCrop:
        return region_to_crop(region, dark, stroke_px)

    found = digits_in_reading_order(regions, to_crop, read, stroke_px)
    regions = [r for r, _ in found]
    crops = [scale_crop(crop, 1 / scale) for _, crop in found]
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
