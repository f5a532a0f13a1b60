"""The writing styles added to training: real MNIST digits given the strokes other
writers add (a continental 7's crossbar, a 1's flag, a slashed 0)."""

import cv2
import numpy as np

from mnist_app.augment import add_slash, add_writing_styles


def holes(image: np.ndarray) -> int:
    """Enclosed background areas of a float32 (28, 28) digit's ink of at least 3 px."""
    ink = (image > 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - ink, connectivity=4)
    touching_edge = set(labels[0]) | set(labels[-1]) | set(labels[:, 0]) | set(labels[:, -1])
    return sum(1 for i in range(1, count) if i not in touching_edge and stats[i, cv2.CC_STAT_AREA] >= 3)


def test_a_slash_strikes_through_the_ring_of_a_real_zero(mnist):
    (x, y), _ = mnist
    zeros = [z.astype(np.float32) / 255 for z in x[y == 0][:200]]
    rings = [z for z in zeros if holes(z) == 1]
    assert len(rings) >= 150
    rng = np.random.default_rng(0)
    slashed = [add_slash(z, rng) for z in rings]
    split_in_two = sum(holes(s) == 2 for s in slashed)
    print(f"{split_in_two} of {len(rings)} rings cut in two")
    # The rest are bold rings whose small hole the slash fills (120 of 176 cut in two).
    assert split_in_two >= 0.6 * len(rings)
    assert all(s.shape == (28, 28) and s.dtype == np.float32 for s in slashed)


def test_styles_are_added_to_a_share_of_the_ones_sevens_and_zeros(mnist):
    (x, y), _ = mnist
    images, labels = add_writing_styles(x[:4000], y[:4000], 0.25, seed=1)
    for digit in (0, 1, 7):
        assert (labels == digit).sum() == int((y[:4000] == digit).sum() * 0.25)
    assert set(np.unique(labels)) == {0, 1, 7}
    assert images.dtype == np.uint8 and images.shape == (len(labels), 28, 28)
