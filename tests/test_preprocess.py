import numpy as np

from mnist_app.preprocess import centre_of_mass, ink_bbox, to_mnist_28


def test_mnist_digits_pass_through_unchanged(mnist_test):
    x, _ = mnist_test
    out = np.stack([to_mnist_28(img) for img in x[:500]])
    correlations = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(x[:500], out)]
    assert np.percentile(correlations, 5) > 0.999


def test_box_and_centre():
    ink = np.zeros((200, 300), np.float32)
    ink[20:180, 40:80] = 1.0  # a tall bar far off-centre
    assert ink_bbox(ink) == (40, 20, 40, 160)
    out = to_mnist_28(ink)
    assert out.shape == (28, 28) and out.dtype == np.float32
    x, y, w, h = ink_bbox(out)
    assert h == 20 and w == 5  # longer side 20 px, aspect ratio kept
    cx, cy = centre_of_mass(out)
    assert abs(cx - 14) <= 1 and abs(cy - 14) <= 1


def test_empty_input_gives_empty_output():
    assert not to_mnist_28(np.zeros((50, 50), np.float32)).any()
