"""Small PNG charts drawn with Pillow (no plotting library needed)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]


def _panel(draw, box, series, title, y_range):
    """One line chart in ``box`` = (left, top, right, bottom): series = [(label, values, colour, dashed)]."""
    left, top, right, bottom = box
    draw.rectangle(box, outline="#888888")
    draw.text((left, top - 16), title, fill="black")
    lo, hi = y_range
    longest = max((len(v) for _, v, _, _ in series), default=1)
    for i in range(5):  # horizontal grid with labels
        value = lo + (hi - lo) * i / 4
        y = bottom - (bottom - top) * i / 4
        draw.line((left, y, right, y), fill="#eeeeee")
        draw.text((left - 48, y - 6), f"{value:.4g}", fill="#444444")
    draw.text(((left + right) // 2 - 20, bottom + 6), "epoch", fill="#444444")

    def point(i, v):
        x = left + (right - left) * (i / max(1, longest - 1))
        v = min(max(v, lo), hi)
        return x, bottom - (bottom - top) * (v - lo) / (hi - lo or 1)

    for k, (label, values, colour, dashed) in enumerate(series):
        points = [point(i, v) for i, v in enumerate(values)]
        if len(points) > 1:
            if dashed:
                for a, b in zip(points[::2], points[1::2]):
                    draw.line((a, b), fill=colour, width=2)
            else:
                draw.line(points, fill=colour, width=2)
        draw.text((right - 150, top + 6 + 14 * k), label, fill=colour)


def plot_training_curves(histories: list[dict], path: Path) -> None:
    """Loss and accuracy per epoch (training dashed, validation solid), one colour a member."""
    width, height = 1000, 420
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    loss_series, acc_series = [], []
    for m, h in enumerate(histories):
        colour = COLOURS[m % len(COLOURS)]
        loss_series += [(f"member {m + 1} train", h["loss"], colour, True),
                        (f"member {m + 1} val", h["val_loss"], colour, False)]
        acc_series += [(f"member {m + 1} train", h["accuracy"], colour, True),
                       (f"member {m + 1} val", h["val_accuracy"], colour, False)]
    losses = [v for _, vals, _, _ in loss_series for v in vals] or [1.0]
    accs = [v for _, vals, _, _ in acc_series for v in vals] or [1.0]
    _panel(draw, (60, 40, 480, 370), loss_series, "loss", (0.0, min(max(losses), 1.0)))
    _panel(draw, (560, 40, 980, 370), acc_series, "accuracy",
           (max(min(accs), 0.9), 1.0))
    path = Path(path)
    image.save(path)
