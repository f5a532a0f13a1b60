"""``python -m mnist_app bench``: how long one drawing takes, stage by stage.

Times one 280x280 canvas drawing through the app's own path (median of many runs
after warm-up) and, in the same process, the naive baseline: one ``model.predict``
call on one 28x28 image. Also the cold start (a fresh process: start to first
prediction) and peak memory. Runs with the app's threading (``model.prefer_latency``).
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time

import cv2
import numpy as np

from mnist_app import PROJECT_ROOT

COLD_START_SCRIPT = """
import time; t0 = time.perf_counter()
import numpy as np
from mnist_app.inference import Recognizer
from mnist_app.model import prefer_latency
prefer_latency()
from mnist_app.preprocess import ink_from_picture, segment_digits
r = Recognizer.from_file({model!r})
canvas = np.zeros((280, 280, 4), np.uint8); canvas[..., 3] = 255
canvas[60:220, 130:150, :3] = 255
crops = segment_digits(ink_from_picture(canvas))
r.predict(np.stack([c.image for c in crops]))
import resource
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def sample_drawing() -> np.ndarray:
    """A 280x280 RGBA canvas as the Draw page sends it: an MNIST test 7, enlarged."""
    from mnist_app.data import load_mnist

    _, (x_test, _) = load_mnist(verify=False)
    digit = cv2.resize(x_test[0], (190, 190), interpolation=cv2.INTER_CUBIC)
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[40:230, 50:240, :3] = digit[..., None]
    return canvas


def median_ms(fn, runs: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run(args) -> int:
    from mnist_app.inference import Recognizer
    from mnist_app.model import prefer_latency
    from mnist_app.preprocess import ink_from_picture, segment_digits

    prefer_latency()  # as the app serves drawings; the naive baseline below runs under it too
    recognizer = Recognizer.from_file(args.model)  # with its calibration, as the app
    model = recognizer.model
    recognizer.warm_up()
    canvas = sample_drawing()
    crops = segment_digits(ink_from_picture(canvas))
    batch = np.stack([c.image for c in crops])
    digit = int(recognizer.predict(batch)[0].argmax())

    def whole_path():
        return recognizer.read_and_explain(segment_digits(ink_from_picture(canvas)))

    runs, few = args.runs, max(20, args.runs // 5)
    results = {
        "preprocess_ms": median_ms(lambda: segment_digits(ink_from_picture(canvas)), runs),
        "predict_ms": median_ms(lambda: recognizer.predict(batch), runs),
        "saliency_gradient_ms": median_ms(lambda: recognizer.saliency(batch[0], digit), runs),
        "predict_and_saliency_ms": median_ms(lambda: recognizer.predict_and_explain(batch), runs),
        "total_ms": median_ms(whole_path, runs),
        "saliency_smoothgrad_ms": median_ms(lambda: recognizer.saliency(batch[0], digit, "smoothgrad"), few),
        "saliency_integrated_ms": median_ms(lambda: recognizer.saliency(batch[0], digit, "integrated"), few),
        "naive_predict_ms": median_ms(lambda: model.predict(batch[:1], verbose=0), max(20, runs // 10), warmup=2),
    }
    results["naive_over_total"] = results["naive_predict_ms"] / results["total_ms"]
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    cold = subprocess.run([sys.executable, "-c", COLD_START_SCRIPT.format(model=str(args.model))],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    in_process_s, cold_rss = (float(v) for v in cold.stdout.split()[-2:])
    results["cold_start_s"] = wall
    results["cold_start_in_process_s"] = in_process_s
    results["cold_start_peak_rss_mb"] = cold_rss
    results["runs"] = runs
    results = {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}

    print(f"one 280x280 drawing, median of {runs} runs after warm-up (ms):")
    for key in ("preprocess_ms", "predict_ms", "saliency_gradient_ms", "predict_and_saliency_ms",
                "total_ms", "saliency_smoothgrad_ms", "saliency_integrated_ms", "naive_predict_ms"):
        print(f"  {key[:-3]:<24} {results[key]:8.2f}")
    print(f"  naive model.predict / whole path: {results['naive_over_total']:.1f}x")
    print(f"cold start to first prediction: {results['cold_start_s']:.2f} s "
          f"(peak RSS {results['cold_start_peak_rss_mb']:.0f} MB)")
    print(f"peak RSS of this benchmark process: {results['peak_rss_mb']:.0f} MB")
    if args.json:
        print(json.dumps(results))
    return 0
