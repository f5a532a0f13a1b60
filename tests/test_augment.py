"""The writing styles added to training: real MNIST digits given the strokes other
writers add (a continental 7's crossbar, a 1's flag, a slashed 0, a 9 shaped like a P)."""

import cv2
import numpy as np

from mnist_app.augment import add_slash, add_writing_styles, stem_on_the_left


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


def hole_and_stem_x(image: np.ndarray) -> tuple[float, float]:
    """x of the centre of a float32 (28, 28) digit's largest hole, and of its ink below the hole."""
    ink = (image > 0.5).astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(1 - ink, connectivity=4)
    inner = [i for i in range(1, count) if i != labels[0, 0]]
    hole = max(inner, key=lambda i: stats[i, cv2.CC_STAT_AREA])
    below = stats[hole, cv2.CC_STAT_TOP] + stats[hole, cv2.CC_STAT_HEIGHT] + 2
    ys, xs = np.nonzero(ink[below:])
    return float(centroids[hole][0]), float(xs.mean()) if len(xs) else float(centroids[hole][0])


def test_a_nine_gets_its_stem_on_the_left_of_its_loop_like_a_p(mnist):
    (x, y), _ = mnist
    nines = [n.astype(np.float32) / 255 for n in x[y == 9][:200]]
    rng = np.random.default_rng(0)
    styled = [(n, stem_on_the_left(n, rng)) for n in nines]
    looped = [(n, s) for n, s in styled if s is not None]
    assert len(looped) >= 150  # the open 9s, a "?" once mirrored, are left alone
    assert all(holes(n) == 0 for n, s in styled if s is None)
    stem_left_before = sum(np.subtract(*hole_and_stem_x(n)) > 0 for n, s in looped if holes(n))
    stem_left_after = sum(np.subtract(*hole_and_stem_x(s)) > 0 for n, s in looped if holes(s))
    print(f"stem left of the loop: {stem_left_before} before, {stem_left_after} after of {len(looped)}")
    assert stem_left_before < 0.5 * len(looped) and stem_left_after > 0.8 * len(looped)
    assert all(s.shape == (28, 28) and s.dtype == np.float32 for _, s in looped)


def test_styles_are_added_to_a_share_of_the_ones_sevens_zeros_and_nines(mnist):
    (x, y), _ = mnist
    images, labels = add_writing_styles(x[:4000], y[:4000], 0.25, seed=1)
    for digit in (0, 1, 7):
        assert (labels == digit).sum() == int((y[:4000] == digit).sum() * 0.25)
    chosen_nines = int((y[:4000] == 9).sum() * 0.25)
    assert 0.7 * chosen_nines <= (labels == 9).sum() < chosen_nines  # open 9s are not styled
    assert set(np.unique(labels)) == {0, 1, 7, 9}
    assert images.dtype == np.uint8 and images.shape == (len(labels), 28, 28)
