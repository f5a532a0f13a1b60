"""Reading phone photos: generated photos with known digits, the pipeline's parts, every
kind of bad file, EXIF rotation, and the command line on a mix of files."""

import io
import json
import struct
import subprocess
import sys
import time
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_app.images import MAX_PIXELS, ImageError, decode_image, encode_jpeg
from mnist_app.photo import (
    analyse_picture,
    annotated,
    crops_from_picture,
    find_digits_in_photo,
    looks_like_photo,
    reading_order,
)
from mnist_app.preprocess import ink_from_picture
from mnist_app.segmentation import segment_digits
from tests.conftest import ROOT
from tests.drawing import blank_canvas, mnist_as_stroke, paste
from tests.photos import (
    SAMPLE_SPECS,
    PhotoSpec,
    compose_sheet,
    digit_ink,
    jpeg_bytes,
    paper_texture,
    photograph,
    random_photo,
)

PHOTOS = 80
SEED = 2026
# Measured on these 80 photos with the shipped model (test accuracy 99.7%), printed
# by the tests below: whole number read exactly 98.8% (79/80), every digit found
# 98.8% (79/80); on other seeds 97.5-100% and 98.8-100%. Floors a bit lower.
READ_RATE_FLOOR = 0.92
SEGMENTATION_FLOOR = 0.95


def _png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def readable(mnist_test, model):
    """Test digits the model reads right as plain 28x28 inputs: uint8 images, labels."""
    from mnist_app.model import predict_probabilities

    x, y = mnist_test
    x, y = x[:3000], y[:3000]
    right = predict_probabilities(model, x).argmax(axis=1) == y
    return (x[right] * 255).round().astype(np.uint8), y[right]


@pytest.fixture(scope="module")
def photos(readable):
    """PHOTOS generated photos of 1-6 digits: (JPEG bytes, PhotoSpec), always the same."""
    rng = np.random.default_rng(SEED)
    return [random_photo(rng, *readable) for _ in range(PHOTOS)]


@pytest.fixture(scope="module")
def analysed(photos):
    return [find_digits_in_photo(decode_image(data)) for data, _ in photos]


def read_number(model, crops) -> str:
    from mnist_app.model import predict_probabilities

    if not crops:
        return ""
    return "".join(str(d) for d in predict_probabilities(model, np.stack([c.image for c in crops])).argmax(axis=1))


# --- Generated photos, end to end ---------------------------------------------------------

def test_generated_photos_are_segmented_into_the_digits_drawn(photos, analysed):
    found = [len(a.crops) == len(spec.label) for (_, spec), a in zip(photos, analysed)]
    rate = float(np.mean(found))
    misses = [(spec.label, len(a.crops)) for (_, spec), a, ok in zip(photos, analysed, found) if not ok]
    print(f"\nsegmentation: {sum(found)}/{len(found)} photos with every digit found ({rate:.1%}); misses {misses}")
    assert rate >= SEGMENTATION_FLOOR, misses


def test_generated_photos_are_read_exactly(photos, analysed, model):
    read = [read_number(model, a.crops) for a in analysed]
    exact = [r == spec.label for r, (_, spec) in zip(read, photos)]
    rate = float(np.mean(exact))
    by_kind = {}
    for ok, (_, spec) in zip(exact, photos):
        for kind in ("ruled", "shadow", "table") + ((spec.ink,) if spec.ink != "black" else ()):
            if kind in ("blue", "red") or getattr(spec, kind, False):
                by_kind.setdefault(kind, []).append(ok)
    summary = ", ".join(f"{k} {np.mean(v):.0%} of {len(v)}" for k, v in sorted(by_kind.items()))
    wrong = [(spec.label, r) for r, (_, spec), ok in zip(read, photos, exact) if not ok]
    print(f"\nread exactly: {sum(exact)}/{len(exact)} photos ({rate:.1%}); by condition: {summary}; wrong {wrong}")
    assert rate >= READ_RATE_FLOOR, wrong


def test_flagged_regions_are_rare_on_clean_generated_photos(analysed):
    flagged = sum(c.doubt is not None for a in analysed for c in a.crops)
    total = sum(len(a.crops) for a in analysed)
    assert flagged <= 0.03 * total, [c.doubt for a in analysed for c in a.crops if c.doubt]


def test_two_rows_are_read_top_row_first(readable, model):
    rng = np.random.default_rng(7)
    correct = 0
    for _ in range(4):
        data, spec = random_photo(rng, *readable, count=3, rows=2)
        crops = find_digits_in_photo(decode_image(data)).crops
        assert len(crops) == 6, spec
        first_row_bottom = max(c.box[1] + c.box[3] for c in crops[:3])
        second_row_top = min(c.box[1] for c in crops[3:])
        assert first_row_bottom < second_row_top + 0.3 * np.median([c.box[3] for c in crops])
        assert [c.box[0] for c in crops[:3]] == sorted(c.box[0] for c in crops[:3])
        correct += read_number(model, crops) == spec.label
    assert correct >= 3


def test_shipped_sample_photos_are_read(model):
    for name, (rows, spec, _) in SAMPLE_SPECS.items():
        data = (ROOT / "assets" / "samples" / name).read_bytes()
        assert len(data) < 300 * 1024
        rgba = decode_image(data)
        assert looks_like_photo(rgba), name
        assert read_number(model, crops_from_picture(rgba)) == spec.label, name


# --- Parts of the pipeline ----------------------------------------------------------------

def test_boxes_and_placements_are_in_the_photos_own_pixels(readable):
    """A big photo is read on a downscaled copy, but reported in its own coordinates."""
    rng = np.random.default_rng(3)
    images, labels = readable
    spec = PhotoSpec("".join(str(int(labels[i])) for i in range(3)), angle=2.0)
    rgb = photograph(rng, compose_sheet(
        rng, [[images[i] for i in range(3)]], spec, 90.0), spec)
    big = cv2.resize(rgb, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    small_crops = find_digits_in_photo(rgb).crops
    analysis = find_digits_in_photo(big)
    assert analysis.scale < 1
    assert len(analysis.crops) == len(small_crops) == 3
    for small, large in zip(small_crops, analysis.crops):
        assert np.allclose(np.array(large.box), 3 * np.array(small.box), atol=12), (small.box, large.box)
        # The 28x28 centre maps into the digit's box in the big photo.
        x, y = large.placement.to_source_matrix() @ np.float32([14, 14, 1])
        bx, by, bw, bh = large.box
        assert bx - 5 <= x <= bx + bw + 5 and by - 5 <= y <= by + bh + 5
    for crop, working in zip(analysis.crops, analysis.working_crops()):
        assert np.allclose(np.array(working.box), np.array(crop.box) * analysis.scale, atol=2)


def test_the_annotated_photo_boxes_and_labels_each_digit_in_its_colour():
    """Green box and label for a digit read, orange with a "?" for one flagged; the label
    above its box, or below where the box touches the top; the rest of the photo as it was."""
    from mnist_app.photo.pipeline import DOUBT_COLOUR, KEPT_COLOUR

    paper = np.full((300, 500, 3), 200, np.uint8)
    boxes = [(60, 120, 50, 80), (300, 2, 50, 80)]
    out = annotated(paper, boxes, ["7", "1"], [False, True])
    assert out.shape == paper.shape and out.dtype == np.uint8
    assert (paper == 200).all()  # drawn on a copy

    def share(region, colour):
        return float(np.mean(np.all(region == np.array(colour, np.uint8), axis=-1)))

    # The first box's outline is green; the label above it a green patch with white text.
    assert share(out[115:118, 60:110], KEPT_COLOUR) > 0.6
    above = out[60:115, 50:120]
    assert share(above, KEPT_COLOUR) > 0.2 and (above > 240).all(axis=-1).any()
    # The second box is at the top: orange, its "1?" label below it, wider than a "1".
    assert share(out[85:88, 300:350], DOUBT_COLOUR) > 0.6
    below = out[88:150, 290:380]
    orange = np.all(below == np.array(DOUBT_COLOUR, np.uint8), axis=-1)
    assert orange.mean() > 0.1 and orange.any(axis=0).sum() > 25
    # Far from both: untouched.
    assert (out[200:, 150:290] == 200).all() and (out[:, 420:] == 200).all()


def test_the_photo_is_shown_as_a_jpeg_true_to_its_boxes_at_a_third_of_the_bytes():
    """The annotated photo the page shows: a JPEG that decodes to the same picture (a few grey
    levels off on average, the green boxes still green), under a third of the bytes of the JPEG
    Streamlit writes for an array (Pillow's, at quality 100)."""
    from mnist_app.photo.pipeline import KEPT_COLOUR

    analysis = analyse_picture(decode_image((ROOT / "assets" / "samples" / "2026.jpg").read_bytes()))
    crops = analysis.working_crops()
    picture = annotated(analysis.rgb, [c.box for c in crops], ["2", "0", "2", "6"][:len(crops)], [False] * len(crops))
    shown = encode_jpeg(picture)
    back = np.asarray(Image.open(io.BytesIO(shown)).convert("RGB"))
    assert back.shape == picture.shape
    assert np.abs(back.astype(int) - picture).mean() < 3
    green = np.all(picture == np.array(KEPT_COLOUR, np.uint8), axis=-1)  # the boxes and labels
    assert green.sum() > 1000
    assert (np.abs(back[green].astype(int) - KEPT_COLOUR).max(axis=1) < 60).mean() > 0.9
    streamlits = io.BytesIO()
    Image.fromarray(picture).save(streamlits, format="JPEG", quality=100)
    assert len(shown) < len(streamlits.getvalue()) / 3


def test_light_ink_on_a_dark_board_is_read(readable):
    rng = np.random.default_rng(11)
    images, labels = readable
    spec = PhotoSpec("x", angle=-3.0, blur=0.7)
    sheet = compose_sheet(
        rng, [[images[i] for i in range(4)]], spec, 80.0)
    chalk = 255 - sheet  # light strokes on a dark board
    analysis = find_digits_in_photo(decode_image(jpeg_bytes(photograph(rng, chalk, spec))))
    assert analysis.light_on_dark
    assert len(analysis.crops) == 4


def test_a_stroke_that_runs_light_for_a_stretch_stays_one_piece(mnist_test):
    """A fine pen or a light hand leaves a long stretch of a stroke at under half the
    darkness of the ink beside it (CVL forms: 10 clear digits came back as two "digits"
    when the threshold cut them there). Real MNIST 1s, scanned size, the middle 40% of
    each faded to 0.45 of its darkness: the ink found is in as many pieces as before and
    keeps the stretch."""
    from mnist_app.photo.threshold import threshold_ink

    def ink_found(dark):
        return threshold_ink(dark, np.full_like(dark, 0.07), window=31, light_stretches=True)

    x, y = mnist_test
    for ink in x[y == 1][:50]:
        big = np.clip(cv2.resize(ink, (112, 112), interpolation=cv2.INTER_CUBIC), 0, 1)
        rows = np.flatnonzero(big.max(axis=1) > 0.5)
        top, height = rows[0], rows[-1] - rows[0]
        faded = slice(top + 3 * height // 10, top + 7 * height // 10)
        pieces_before = cv2.connectedComponents(ink_found(big), connectivity=8)[0]
        big[faded] *= 0.45
        mask = ink_found(big)
        assert cv2.connectedComponents(mask, connectivity=8)[0] == pieces_before
        assert mask[faded].any(axis=1).all()


def test_a_faint_line_touching_one_digit_is_not_taken_for_its_stroke(readable):
    """The light stretches joined are those between pieces of ink: a faint ruled line
    running into one digit (as a line's remains do in a shadow) stays out of it."""
    from mnist_app.photo.threshold import threshold_ink

    images, _ = readable
    for image in images[:20]:
        digit = np.clip(cv2.resize(image.astype(np.float32) / 255, (112, 112), interpolation=cv2.INTER_CUBIC), 0, 1)
        dark = np.zeros((160, 320), np.float32)
        dark[24:136, 180:292] = digit
        ys, xs = np.nonzero(dark > 0.5)
        left = xs.argmin()
        row, start = ys[left], xs[left]  # the line runs into the digit's leftmost ink
        dark[row : row + 2, start - 40 : start + 1] = np.maximum(dark[row : row + 2, start - 40 : start + 1], 0.3)
        mask = threshold_ink(dark, np.full_like(dark, 0.07), window=31, light_stretches=True)
        _, labels = cv2.connectedComponents(mask, connectivity=8)
        digit_piece = labels == labels[np.unravel_index(dark.argmax(), dark.shape)]
        assert not digit_piece[:, : start - 3].any()


def test_blank_paper_with_a_shadow_has_no_digits():
    rng = np.random.default_rng(5)
    spec = PhotoSpec("", shadow=True, table=True, angle=5.0, blur=1.0)
    paper = paper_texture(rng, 500, 700)
    data = jpeg_bytes(photograph(rng, paper, spec), 70)
    assert find_digits_in_photo(decode_image(data)).crops == []


def test_squared_paper_lines_are_taken_out(readable):
    images, labels = readable
    for seed in range(3):
        rng = np.random.default_rng(seed)
        picks = rng.choice(len(images), 4)
        spec = PhotoSpec("".join(str(int(labels[i])) for i in picks), angle=float(rng.uniform(-6, 6)),
                         shadow=bool(seed % 2), blur=0.7)
        sheet = compose_sheet(rng, [[images[i] for i in picks]], spec, 90.0)
        step = int(rng.integers(25, 45))
        for y in range(0, sheet.shape[0], step):
            cv2.line(sheet, (0, y), (sheet.shape[1], y), (160, 180, 220), 1, cv2.LINE_AA)
        for x in range(0, sheet.shape[1], step):
            cv2.line(sheet, (x, 0), (x, sheet.shape[0]), (160, 180, 220), 1, cv2.LINE_AA)
        crops = find_digits_in_photo(decode_image(jpeg_bytes(photograph(rng, sheet, spec), 80))).crops
        assert len(crops) == 4 and not any(c.doubt for c in crops), (seed, [c.doubt for c in crops])


def test_touching_digits_are_split(readable):
    images, labels = readable
    rng = np.random.default_rng(9)
    inks = [digit_ink(images[i], 100) for i in (0, 1)]
    sheet_ink = np.zeros((260, 420), np.float32)
    x = 100
    for ink in inks:
        h, w = ink.shape
        region = sheet_ink[80 : 80 + h, x : x + w]
        np.maximum(region, ink, out=region)
        x += w - 6  # overlap a little: the strokes touch
    paper = paper_texture(rng, 260, 420)
    sheet = paper * (1 - sheet_ink[..., None]) + 30 * sheet_ink[..., None]
    crops = find_digits_in_photo(np.clip(sheet, 0, 255).astype(np.uint8)).crops
    assert len(crops) == 2


def test_odd_regions_are_flagged_not_silently_read(readable):
    """A mark much smaller than the digits beside it (a superscript, a tick) is read
    but flagged, so the app marks it with a '?' and the CLI says "unsure"."""
    images, labels = readable
    rng = np.random.default_rng(13)
    sheet = compose_sheet(rng, [[images[i] for i in range(3)]], PhotoSpec("x"), 90.0)
    small = digit_ink(images[3], 40)
    h, w = small.shape
    top, left = sheet.shape[0] // 2 - 60, sheet.shape[1] - w - 30
    sheet[top : top + h, left : left + w] *= 1 - 0.85 * small[..., None]
    crops = find_digits_in_photo(np.clip(sheet, 0, 255).astype(np.uint8)).crops
    assert len(crops) == 4
    flagged = [c for c in crops if c.doubt is not None]
    assert len(flagged) == 1 and "smaller" in flagged[0].doubt
    assert flagged[0].box[0] == max(c.box[0] for c in crops)  # the small mark at the right


def test_reading_order_is_rows_top_to_bottom_then_left_to_right():
    boxes = [(300, 210, 40, 60), (10, 20, 40, 60), (150, 30, 40, 60), (20, 200, 40, 60), (290, 40, 40, 60)]
    assert reading_order(boxes) == [1, 2, 4, 3, 0]
    # A tilted row stays one row.
    tilted = [(i * 50, 100 + i * 12, 40, 60) for i in range(6)]
    assert reading_order(tilted) == list(range(6))


def test_a_line_wandering_by_a_digits_height_stays_one_row():
    # "83489" written rising and falling by up to a whole digit height between neighbours:
    # no band without ink separates any two of them, so a person reads one line.
    tops = [100, 40, 100, 160, 95]
    assert reading_order([(i * 60, top, 45, 60) for i, top in enumerate(tops)]) == list(range(5))
    # Two such rows, one clear band apart, still read row by row.
    second = [(i * 60, top + 240, 45, 60) for i, top in enumerate(tops)]
    boxes = second[:2] + [(i * 60, top, 45, 60) for i, top in enumerate(tops)] + second[2:]
    assert reading_order(boxes) == [2, 3, 4, 5, 6, 0, 1, 7, 8, 9]


def test_drawings_are_not_photos_and_go_the_canvas_way(mnist_test):
    x, _ = mnist_test
    canvas = paste(blank_canvas(), mnist_as_stroke(x[0], 200, 18), 200, 50)
    assert not looks_like_photo(canvas)
    crops = crops_from_picture(canvas)
    expected = segment_digits(ink_from_picture(canvas))
    assert [c.box for c in crops] == [c.box for c in expected]
    assert not analyse_picture(canvas).is_photo
    # Dark on white, even after a JPEG round trip, is still a drawing.
    white = 255 - canvas
    white[..., 3] = 255
    assert not looks_like_photo(white)
    assert not looks_like_photo(decode_image(jpeg_bytes(white[..., :3], 80)))


def test_generated_photos_look_like_photos(photos):
    assert all(looks_like_photo(decode_image(data)) for data, _ in photos[:20])


@pytest.mark.parametrize("shape", [(1, 1), (1, 60), (60, 1), (3, 3), (9, 500), (120, 90)])
@pytest.mark.parametrize("fill", ["black", "white", "noise"])
def test_degenerate_pictures_give_no_error(shape, fill):
    rng = np.random.default_rng(0)
    image = {"black": np.zeros(shape + (3,), np.uint8), "white": np.full(shape + (3,), 255, np.uint8),
             "noise": rng.integers(0, 256, shape + (3,), dtype=np.uint8)}[fill]
    analysis = analyse_picture(image)
    assert isinstance(analysis.crops, list)
    find_digits_in_photo(image)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 160), width=st.integers(1, 160), seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["noise", "blobs", "lines"]))
def test_arbitrary_pictures_give_crops_inside_the_picture(height, width, seed, kind):
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 220, np.uint8)
    if kind == "noise":
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    for _ in range(int(rng.integers(0, 6))):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if kind == "lines":
            cv2.line(image, centre, (int(rng.integers(0, width)), int(rng.integers(0, height))), (20, 20, 20), 3)
        else:
            cv2.circle(image, centre, int(rng.integers(1, 30)), (30, 30, 90), int(rng.integers(-1, 5)))
    for crops in (find_digits_in_photo(image).crops, crops_from_picture(image)):
        for crop in crops:
            x, y, w, h = crop.box
            assert 0 <= x and 0 <= y and x + w <= width and y + h <= height and w > 0 and h > 0
            assert crop.image.shape == (28, 28) and crop.image.dtype == np.float32
            assert np.isfinite(crop.image).all() and crop.image.min() >= 0 and crop.image.max() <= 1


# --- Bad files, formats, EXIF ---------------------------------------------------------------

def _sample_jpeg() -> bytes:
    return (ROOT / "assets" / "samples" / "2026.jpg").read_bytes()


@pytest.mark.parametrize("name, data", [
    ("empty", b""),
    ("random bytes", np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()),
    ("text renamed .png", b"these are my digits: 2026\n" * 20),
    ("truncated PNG", _png(Image.new("RGB", (300, 200), "white"))[:60]),
    ("truncated JPEG", _sample_jpeg()[: len(_sample_jpeg()) // 3]),
    ("PNG header only", b"\x89PNG\r\n\x1a\n"),
])
def test_bad_files_are_refused_with_a_clear_message(name, data):
    with pytest.raises(ImageError) as error:
        decode_image(data)
    message = str(error.value)
    assert message and "Traceback" not in message and len(message) < 300, message


def _png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims ``width`` x ``height`` greyscale pixels (its
    data holds only the first rows): what a decompression bomb looks like to a decoder."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = zlib.compress(b"\x00" + b"\xff" * width)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


@pytest.mark.parametrize("width, height", [(10_000, 10_000), (8_000, 7_000)])
def test_a_decompression_bomb_is_refused_from_its_header_without_decoding(monkeypatch, width, height):
    bomb = _png_header_claiming(width, height)
    assert len(bomb) < 2_000 and width * height > MAX_PIXELS

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", no_decoding)
    started = time.perf_counter()
    with pytest.raises(ImageError, match="too large"):
        decode_image(bomb)
    assert time.perf_counter() - started < 0.5


def _formats():
    rgb = Image.new("RGB", (40, 30), (250, 250, 250))
    rgb.paste((20, 20, 20), (10, 5, 20, 25))
    grey16 = Image.fromarray(np.linspace(0, 65535, 40 * 30).reshape(30, 40).astype(np.uint16))
    cmyk = io.BytesIO()
    rgb.convert("CMYK").save(cmyk, "JPEG")
    return {
        "16-bit PNG": _png(grey16),
        "CMYK JPEG": cmyk.getvalue(),
        "palette PNG": _png(rgb.convert("P", palette=Image.Palette.ADAPTIVE)),
        "LA PNG": _png(rgb.convert("LA")),
        "RGBA PNG": _png(rgb.convert("RGBA")),
        "greyscale PNG": _png(rgb.convert("L")),
        "1-bit PNG": _png(rgb.convert("1")),
    }


@pytest.mark.parametrize("name", list(_formats()))
def test_every_image_mode_decodes_to_rgba(name):
    rgba = decode_image(_formats()[name])
    assert rgba.dtype == np.uint8 and rgba.shape == (30, 40, 4)
    if name != "16-bit PNG":
        # The dark square is dark whatever the mode.
        assert rgba[15, 15, :3].max() < 80 and rgba[2, 2, :3].min() > 150


@pytest.mark.parametrize("orientation, rotate", [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)])
def test_exif_rotated_phone_photos_are_read_upright(orientation, rotate):
    """A phone stores the pixels sideways and says so in EXIF: read them upright."""
    upright = Image.open(io.BytesIO(_sample_jpeg()))
    sideways = upright.transpose(rotate)  # how the sensor stored it
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", quality=90, exif=exif)
    rgba = decode_image(buffer.getvalue())
    assert rgba.shape[:2] == (upright.height, upright.width)
    crops = crops_from_picture(rgba)
    assert len(crops) == 4
    assert [c.box[0] for c in crops] == sorted(c.box[0] for c in crops)
    assert max(c.box[3] for c in crops) < 2 * max(c.box[2] for c in crops)


# --- Command line -----------------------------------------------------------------------------

def test_cli_predict_reads_photos_and_drawings_and_reports_bad_files(tmp_path, mnist_test):
    x, _ = mnist_test
    drawing = tmp_path / "drawing.png"
    canvas = paste(blank_canvas(), mnist_as_stroke(x[0], 200, 18), 200, 50)
    Image.fromarray(canvas).save(drawing)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(_sample_jpeg()[:500])
    sample = ROOT / "assets" / "samples" / "2026.jpg"
    result = subprocess.run([sys.executable, "-m", "mnist_app", "predict", "--json", str(sample), str(corrupt),
                             str(drawing)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [line["path"] for line in lines] == [str(sample), str(corrupt), str(drawing)]
    photo, bad, drawn = lines
    assert photo["number"] == "2026"
    assert len(photo["digits"]) == 4
    for digit in photo["digits"]:
        assert set(digit) >= {"digit", "confidence", "probabilities", "box", "unsure"}
        assert len(digit["probabilities"]) == 10 and len(digit["box"]) == 4
    assert set(bad) == {"path", "error"} and "corrupt" in bad["error"]
    assert drawn["number"] == str(int(mnist_test[1][0]))


def test_the_median_of_grey_levels_from_a_histogram_is_numpys():
    from mnist_app.photo.light import median_of_integers

    rng = np.random.default_rng(0)
    for size in (1, 2, 3, 10, 11, 4096, 4097):
        for values in (rng.integers(-255, 256, size), rng.integers(0, 3, size), np.full(size, -7)):
            values = values.astype(np.int16)
            assert median_of_integers(values) == float(np.median(values.astype(np.float32)))
