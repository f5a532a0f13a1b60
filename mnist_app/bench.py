"""``python -m mnist_app bench``: how long one drawing takes, stage by stage.

Times one 280x280 canvas drawing through the app's own path (median of many runs
after warm-up; the LiteRT network, as the app) and, in the same process, the naive
baseline: one Keras ``model.predict`` call on one 28x28 image of the same model (with
``model.prefer_latency``'s threading). Also the cold start (a fresh process, as the
app's: start to first prediction, no TensorFlow) and peak memory.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from mnist_app import PROJECT_ROOT

COLD_START_SCRIPT = """
import time; t0 = time.perf_counter()
import numpy as np
from mnist_app.inference import Recognizer
from mnist_app.preprocess import ink_from_picture
from mnist_app.segmentation import segment_digits
r = Recognizer.from_file({model!r})
canvas = np.zeros((280, 280, 4), np.uint8); canvas[..., 3] = 255
canvas[60:220, 130:150, :3] = 255
crops = segment_digits(ink_from_picture(canvas))
r.predict(np.stack([c.image for c in crops]))
import sys
assert "tensorflow" not in sys.modules
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (this benchmark).
peak_kb = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(time.perf_counter() - t0, int(peak_kb) / 1024)
"""


# An MNIST test 5 the network reads at ~70%: an open digit takes the same path as a clear one.
UNCLEAR_TEST_DIGIT = 340


def sample_drawing(test_index: int = 0) -> np.ndarray:
    """A 280x280 RGBA canvas as the Draw page sends it: an MNIST test digit (the
    first, a clear 7, by default), enlarged."""
    from mnist_app.data import load_mnist

    _, (x_test, _) = load_mnist(verify=False)
    digit = cv2.resize(x_test[test_index], (190, 190), interpolation=cv2.INTER_CUBIC)
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


PROFILE_SIZES = (500, 10_000)


def profile_costs(recognizer, crops, runs: int) -> dict:
    """What a profile's examples add to one reading of ``crops``: the whole Draw path
    with them against without, the blend alone, and the cache's check of a SQLite store
    holding that many answers (nothing new in it, as on most strokes). Real MNIST
    training digits stand in for the examples."""
    import tempfile

    from mnist_app.data import load_mnist
    from mnist_app.feedback import FeedbackStore
    from mnist_app.personal import ExampleCache, Straightening, blend, example_vectors

    (x_train, y_train), _ = load_mnist()
    images = np.stack([c.image for c in crops])
    probabilities, _, features = recognizer.classify(images)
    vectors = example_vectors(images, features)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        store = FeedbackStore(Path(folder) / "feedback.sqlite3").for_profile("bench")
        cache = ExampleCache(recognizer)
        stored = 0
        for size in PROFILE_SIZES:
            for image, label in zip(x_train[stored:size], y_train[stored:size]):  # as answers arrive, one by one
                store.add(image, label=int(label), predicted=int(label), probabilities=np.eye(10)[label],
                          model_version="bench", source="draw")
            stored = size
            examples = cache.examples(store)
            with_examples = median_ms(lambda: recognizer.read_and_explain(crops, examples), runs)
            without = median_ms(lambda: recognizer.read_and_explain(crops), runs)
            results[f"examples_{size}_added_ms"] = with_examples - without
            results[f"examples_{size}_blend_ms"] = median_ms(lambda: blend(probabilities, vectors, examples), runs)
            results[f"examples_{size}_store_check_ms"] = median_ms(lambda: cache.examples(store), runs)
            # A profile whose writing leans right 0.6, drawing that digit leaning so.
            leaning = [replace(c, image=image) for c, image in zip(crops, Straightening(0.0, -0.6).apply(images))]
            straightened = replace(examples, straightening=Straightening(0.0, 0.6))
            results[f"examples_{size}_straightened_added_ms"] = (
                median_ms(lambda: recognizer.read_and_explain(leaning, straightened), runs)
                - median_ms(lambda: recognizer.read_and_explain(leaning), runs))
            store.add(x_train[size], label=int(y_train[size]), predicted=int(y_train[size]),
                      probabilities=np.eye(10)[y_train[size]], model_version="bench", source="draw")
            started = time.perf_counter()  # one new answer: the next reading brings the profile up to date
            cache.examples(store)
            results[f"examples_{size}_new_answer_ms"] = (time.perf_counter() - started) * 1000
            stored += 1
    return results


def run(args) -> int:
    from mnist_app.inference import Recognizer
    from mnist_app.model import load_model, prefer_latency
    from mnist_app.preprocess import ink_from_picture
    from mnist_app.segmentation import segment_digits

    prefer_latency()  # the naive baseline with TensorFlow's fastest threading for one image
    recognizer = Recognizer.from_file(args.model)  # with its calibration, as the app
    model = load_model(args.model)  # the same network in Keras, for the naive baseline
    recognizer.warm_up()
    canvas = sample_drawing()
    crops = segment_digits(ink_from_picture(canvas), recognizer.judge)
    batch = np.stack([c.image for c in crops])
    digit = int(recognizer.predict(batch)[0].argmax())

    def whole_path(drawing=canvas):
        return recognizer.read_and_explain(segment_digits(ink_from_picture(drawing), recognizer.judge))

    unclear = sample_drawing(UNCLEAR_TEST_DIGIT)

    runs, few = args.runs, max(20, args.runs // 5)
    results = {
        "preprocess_ms": median_ms(lambda: segment_digits(ink_from_picture(canvas), recognizer.judge), runs),
        "predict_ms": median_ms(lambda: recognizer.predict(batch), runs),
        "saliency_gradient_ms": median_ms(lambda: recognizer.saliency(batch[0], digit), runs),
        "predict_and_saliency_ms": median_ms(lambda: recognizer.predict_and_explain(batch), runs),
        "total_ms": median_ms(whole_path, runs),
        "total_unclear_ms": median_ms(lambda: whole_path(unclear), runs),
        "saliency_smoothgrad_ms": median_ms(lambda: recognizer.saliency(batch[0], digit, "smoothgrad"), few),
        "saliency_integrated_ms": median_ms(lambda: recognizer.saliency(batch[0], digit, "integrated"), few),
        "naive_predict_ms": median_ms(lambda: model.predict(batch[:1], verbose=0), max(20, runs // 10), warmup=2),
    }
    results["naive_over_total"] = results["naive_predict_ms"] / results["total_ms"]
    results.update(profile_costs(recognizer, crops, runs))
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
                "total_ms", "total_unclear_ms", "saliency_smoothgrad_ms", "saliency_integrated_ms", "naive_predict_ms"):
        print(f"  {key[:-3]:<24} {results[key]:8.2f}")
    print(f"  naive model.predict / whole path: {results['naive_over_total']:.1f}x "
          f"({results['naive_predict_ms'] / results['total_unclear_ms']:.1f}x for the unclear digit)")
    for size in PROFILE_SIZES:
        print(f"  with {size:,} examples in the profile: +{results[f'examples_{size}_added_ms']:.2f} ms "
              f"(the blend alone {results[f'examples_{size}_blend_ms']:.2f} ms; checking the store for new "
              f"answers {results[f'examples_{size}_store_check_ms']:.2f} ms); a leaning digit read straightened "
              f"+{results[f'examples_{size}_straightened_added_ms']:.2f} ms; the reading after a new answer "
              f"+{results[f'examples_{size}_new_answer_ms']:.0f} ms (straightening fitted again)")
    print(f"cold start to first prediction: {results['cold_start_s']:.2f} s "
          f"(peak RSS {results['cold_start_peak_rss_mb']:.0f} MB)")
    print(f"peak RSS of this benchmark process: {results['peak_rss_mb']:.0f} MB")
    if args.json:
        print(json.dumps(results))
    return 0
