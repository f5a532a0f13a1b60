"""Command line.

    python -m mnist_app evaluate [--set mnist|pen|skahl|scans|kensanata|mnist_scans|cvl|all] [--json]
                                                   accuracy and confidence on a measuring set
    python -m mnist_app predict [--json] [--profile NAME] IMAGE...
                                                   read the digits in drawings and photos
    python -m mnist_app teach --profile NAME --label D IMAGE...
                                                   store each image's digit as a D of that profile
    python -m mnist_app adaptation [--json]        how taught examples change a writer's readings
    python -m mnist_app bench [--json]             latency of one drawing, by stage
    python -m mnist_app figures [--check]          README's and docs/model.md's tables from the report
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from mnist_app.network import MODEL_PATH

BATCH_THREADS = os.cpu_count() or 1  # the command line reads in batches: every core per network call


def evaluate(args) -> int:
    """Each chosen set read through the app's path, and by the plain baseline."""
    from mnist_app import set_results
    from mnist_app.evaluation import SET_SOURCES, SET_TITLES, SETS, available_sets, evaluate_set, load_set
    from mnist_app.inference import Recognizer
    from mnist_app.network import model_version

    recognizer = Recognizer.from_file(args.model, BATCH_THREADS)
    if args.set != "all" and args.set not in available_sets():
        print(f"error: the set {args.set!r} is not here (the CVL forms are read from the workplace's "
              f"shared/handwriting/cvl-train.npz or $MNIST_CVL_FILE, never shipped)", file=sys.stderr)
        return 2
    for name in available_sets() if args.set == "all" else [args.set]:
        started = time.time()
        results = evaluate_set(recognizer, load_set(name, limit=args.limit))
        if args.save_results and name in SETS and args.limit is None:
            set_results.save(results["pipeline"], set_results.shipped_dir(args.model) / f"{name}.npz",
                             model_version(args.model))
        summary = {"set": name, "source": SET_SOURCES[name], "model": str(args.model), **results["pipeline"].summary(),
                   "baseline": results["baseline"].summary(), "seconds": round(time.time() - started, 2)}
        if args.json:
            print(json.dumps(summary))
            continue
        print(f"{SET_TITLES[name]} ({summary['n']:,}, {summary['source']}), model {args.model}, "
              f"{summary['seconds']:.0f} s; not read as exactly one digit: {sum(summary['not_one_digit'])}")
        print("               accuracy  unsure  wrong but sure  calibration error")
        for who, row in (("the app", summary), ("plain baseline", summary["baseline"])):
            print(f"{who:<14} {row['accuracy']:>8.2%}  {row['unsure']:>6.2%}  {row['wrong_but_sure']:>14.2%}"
                  f"  {row['calibration_error']:>17.4f}")
        print("confusion matrix (rows = true digit, columns = read; last: not exactly one digit):")
        print("     " + "".join(f"{d:>6}" for d in range(10)) + "  other")
        for d, row in enumerate(summary["confusion"]):
            print(f"{d:>5}" + "".join(f"{v:>6}" for v in row) + f"{summary['not_one_digit'][d]:>7}")
        print()
    return 0


def predict(args) -> int:
    """Read every image through the app's own path; all crops in one batched call."""
    from mnist_app.inference import Recognizer

    recognizer = Recognizer.from_file(args.model, BATCH_THREADS)
    crops_per_image = [_read_file(path, recognizer) for path in args.images]
    all_crops = [c for crops in crops_per_image if not isinstance(crops, str) for c in crops]
    examples = None
    if args.profile is not None:
        examples = _profile_examples(recognizer, args.profile)
        if isinstance(examples, str):
            print(f"error: {examples}", file=sys.stderr)
            return 2
    probabilities, top_logits, features = recognizer.classify(np.stack([c.image for c in all_crops])
                                                              if all_crops else np.zeros((0, 28, 28)))
    start = 0
    failures = 0
    for path, crops in zip(args.images, crops_per_image):
        if isinstance(crops, str):
            failures += 1
            if args.json:
                print(json.dumps({"path": str(path), "error": crops}))
            else:
                print(f"{path}: error: {crops}", file=sys.stderr)
            continue
        end = start + len(crops)
        reading = recognizer.readings(crops, probabilities[start:end], top_logits[start:end], features[start:end],
                                      examples)
        start = end
        if args.json:
            print(json.dumps({"path": str(path), **reading.to_json()}))
        elif reading.empty:
            print(f"{path}: nothing to read (no digit found)")
        else:
            details = ", ".join(f"{d.digit} {d.confidence:.0%}{' (unsure)' if d.unsure else ''}"
                                f"{f' (like {len(d.from_examples)} of your {d.digit}s)' if d.from_examples else ''}"
                                for d in reading.digits)
            print(f"{path}: {reading.number}  [{details}]")
    return 1 if failures else 0


def _profile_examples(recognizer, profile: str):
    """The examples of ``profile`` in the feedback store (``$MNIST_FEEDBACK_DB``), or why
    they cannot be had (a string). No store file, or no such profile: no examples."""
    from mnist_app.feedback import FeedbackStore, FeedbackStoreError
    from mnist_app.personal import ExampleCache, Examples

    try:
        store = FeedbackStore().for_profile(profile)
        if not store.path.exists():
            return Examples.none()
        return ExampleCache(recognizer).examples(store)
    except (ValueError, FeedbackStoreError) as exc:
        return str(exc)


def adaptation(args) -> int:
    """Pseudo-writers of real pen digits, or the CVL forms' real writers on paper
    (``writers``), each read by the shared network and with ``--shots`` taught examples
    of each digit."""
    from mnist_app.inference import Recognizer
    from mnist_app.writers import GROUPS, make_writers, measure

    started = time.time()
    recognizer = Recognizer.from_file(args.model, BATCH_THREADS)
    if args.writers == "cvl":
        from mnist_app.writers import cvl_writers

        try:
            writers = cvl_writers(recognizer)
        except FileNotFoundError as exc:
            print(f"the CVL forms are not here ({exc.filename}); they are never shipped: set MNIST_CVL_FILE",
                  file=sys.stderr)
            return 2
    else:
        writers = make_writers(recognizer)
    rows = measure(recognizer, writers, trials=args.trials, shots=args.shots)
    if args.json:
        print(json.dumps({"shots": args.shots, "trials": args.trials, "writers": rows,
                          "seconds": round(time.time() - started, 1)}))
        return 0
    print(f"{args.shots} examples of each digit taught, the writer's other digits read; "
          f"mean of {args.trials} trials ({time.time() - started:.0f} s)")
    print(f"{'writer':<34}{'digits':>7}{'shared':>9}{'adapted':>9}{'1 wrong in 5':>14}")
    for row in rows:
        name = row["writer"] + (" (tuned on)" if row["group"] == "tuned on" else "")
        print(f"{name:<34}{row['digits']:>7}{row['shared']:>9.2%}{row['adapted']:>9.2%}"
              f"{row['one_wrong_in_each_digit']:>14.2%}")
    digits = np.array([r["digits"] - 10 * args.shots for r in rows])  # read in each trial
    shared_errors = float(np.sum(digits * (1 - np.array([r["shared"] for r in rows]))))
    adapted_errors = float(np.sum(digits * (1 - np.array([r["adapted"] for r in rows]))))
    print(f"errors over all {len(rows)} writers, per trial: shared {shared_errors:.1f}, adapted {adapted_errors:.1f} "
          f"({1 - adapted_errors / max(shared_errors, 1e-9):.1%} of the shared network's errors gone)")
    for group in ("measured", *GROUPS):
        part = [r for r in rows if r["group"] == group]
        hard = [r for r in part if r["shared"] <= 0.92]
        for who, writers in ((f"{group}: all", part), (f"{group}: the network reads <= 92%", hard)):
            if writers:
                print(f"{who:<48}{len(writers):>3}: shared {np.mean([r['shared'] for r in writers]):.2%}, "
                      f"adapted {np.mean([r['adapted'] for r in writers]):.2%}, "
                      f"1 wrong in 5 {np.mean([r['one_wrong_in_each_digit'] for r in writers]):.2%}")
    return 0


def _read_file(path: Path, recognizer):
    """The crops of one image file as ``recognizer`` segments them, or the reason it
    cannot be read (a string)."""
    from mnist_app.images import ImageError, decode_image
    from mnist_app.photo import crops_from_picture

    try:
        return crops_from_picture(decode_image(Path(path).read_bytes()), recognizer.judge)
    except (OSError, ImageError) as exc:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"cannot read {path}: {message}"


def teach(args) -> int:
    """Store the one digit of each image as an example of ``args.label`` in a profile
    (the feedback store of ``$MNIST_FEEDBACK_DB``), as an answer given on the Photo page
    would be. A file that cannot be read, or holds no digit or several, is reported and
    skipped; the others are stored. Exit 0 when all were stored, 1 otherwise."""
    from mnist_app.feedback import FeedbackStore, FeedbackStoreError
    from mnist_app.inference import Recognizer
    from mnist_app.network import model_version

    try:
        store = FeedbackStore().for_profile(args.profile)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    recognizer = Recognizer.from_file(args.model, BATCH_THREADS)
    version = model_version(args.model)
    failures = 0
    for path in args.images:
        crops = _read_file(path, recognizer)
        if not isinstance(crops, str) and len(crops) != 1:
            crops = f"{path}: {'no digit found' if not crops else f'{len(crops)} digits found'}, not one"
        if isinstance(crops, str):
            failures += 1
            print(f"error: {crops}", file=sys.stderr)
            continue
        digit = recognizer.read_many([crops])[0].digits[0]
        try:
            answer_id = store.add(digit.crop.image, label=args.label, predicted=digit.digit,
                                  probabilities=digit.probabilities, model_version=version, source="photo")
        except FeedbackStoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{path}: stored as a {args.label} in profile {args.profile} (answer #{answer_id}; "
              f"the model read {digit.digit}, {digit.confidence:.0%})")
    return 1 if failures else 0


def figures(args) -> int:
    """Write (or with --check, compare) the per-set tables of README.md and docs/model.md
    from the model's report."""
    from mnist_app.figures import DOCUMENTS, stale_documents, write_tables
    from mnist_app.network import REPORT_PATH

    report = json.loads(REPORT_PATH.read_text())
    if args.check:
        stale = stale_documents(report)
        for path in stale:
            print(f"{path.name}: its figures differ from {REPORT_PATH.name}; run: python -m mnist_app figures",
                  file=sys.stderr)
        return 1 if stale else 0
    changed = write_tables(report)
    print(f"figures written from {REPORT_PATH.name}: " + (", ".join(p.name for p in changed) or
                                                          f"{len(DOCUMENTS)} documents already current"))
    return 0


def main(argv=None) -> int:
    from mnist_app.evaluation import MORE_SETS, SETS

    parser = argparse.ArgumentParser(prog="python -m mnist_app", description="Handwritten-digit recognizer")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("evaluate", help="accuracy, confidence and confusion on a measuring set")
    p.add_argument("--set", choices=[*SETS, *MORE_SETS, "all"],
                   default="mnist", help="MNIST test digits, held-out pen digits drawn as on the canvas, strokes with "
                   "pen lifts, the held-out USPS scans or kensanata16 paper forms, MNIST's test digits as scans, the "
                   "CVL paper forms as scans, or every one here")
    p.add_argument("--limit", type=int, default=None, help="only the first N digits of each set")
    p.add_argument("--json", action="store_true", help="one JSON object per set, one per line")
    p.add_argument("--model", type=Path, default=MODEL_PATH, help="model file (.keras)")
    p.add_argument("--save-results", action="store_true",
                   help="keep what the model read in each of the Model page's sets beside the model file "
                        "(set_results/), so the page shows them at once; whole sets only")
    p.set_defaults(run=evaluate)
    p = commands.add_parser("predict", help="read the digits in image files (drawings or pictures)")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--json", action="store_true", help="one JSON object per image, one per line")
    p.add_argument("--profile", help="read with this handwriting profile's examples (an unknown or empty "
                                     "profile reads as none)")
    p.add_argument("--model", type=Path, default=MODEL_PATH, help="model file (.keras)")
    p.set_defaults(run=predict)
    p = commands.add_parser("teach", help="store each image's digit as an example of D in a handwriting profile")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--profile", required=True, help="the profile (1-64 letters, digits, '-' or '_'; the app's "
                                                     "?profile= in the address)")
    p.add_argument("--label", required=True, type=int, choices=range(10), metavar="D", help="the digit, 0-9")
    p.add_argument("--model", type=Path, default=MODEL_PATH, help="model file (.keras)")
    p.set_defaults(run=teach)
    p = commands.add_parser("adaptation", help="how a writer's taught examples change their readings")
    p.add_argument("--shots", type=int, default=5, help="examples taught of each digit")
    p.add_argument("--writers", choices=["pen", "cvl"], default="pen",
                   help="pseudo-writers of real pen digits drawn on the canvas, or the CVL forms' 127 real "
                        "writers on paper (where the workplace's copy is)")
    p.add_argument("--trials", type=int, default=20, help="random choices of the examples per writer")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--model", type=Path, default=MODEL_PATH, help="model file (.keras)")
    p.set_defaults(run=adaptation)
    p = commands.add_parser("bench", help="time one drawing through the app's path, by stage")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--runs", type=int, default=200, help="timed runs per stage (median reported)")
    p.add_argument("--model", type=Path, default=MODEL_PATH, help="model file (.keras)")
    p.set_defaults(run=lambda a: __import__("mnist_app.bench", fromlist=["run"]).run(a))
    p = commands.add_parser("figures", help="write the per-set tables of README.md and docs/model.md from the report")
    p.add_argument("--check", action="store_true", help="only say whether they match the report (exit 1 if not)")
    p.set_defaults(run=figures)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
