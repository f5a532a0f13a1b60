"""Train the digit recognizer on MNIST and save it, with its report, into assets/.

The story: load the data (verified against its checksums) -> carve a validation
split out of the 60k training digits -> add writing styles MNIST lacks, real pen
digits by writers outside MNIST drawn as on the canvas, and real digits on paper (USPS
mail, kensanata16 forms) as scans, each read through the app's own path (parts of
each held out) -> train CNN members with random warps and stroke widths, each selected
on validation accuracy -> average them into one model -> evaluate once on the 10k
test digits -> fit the confidence on held-out real digits -> measure every set as the
app reads it -> save the model, the LiteRT network the app reads with, a JSON report
and a PNG of the training curves.

    python train_model.py                 # two members from scratch (about 2 h 10 min on 2 CPU cores)
    python train_model.py --quick --out /tmp/m   # a minute-long smoke run
    python train_model.py --include-feedback     # also learn from the digits users labelled in the app

The shipped model is that pair fine-tuned with real paper digits, grown by a third member
trained with paper from the start, the three fine-tuned again, then grown by a fourth
trained the same way, which takes the place of the pair's first (the weakest on paper), and
those three fine-tuned (docs/model.md):

    python train_model.py --out /tmp/pair
    python train_model.py --fine-tune /tmp/pair/model.keras --paper-repeat 1 --epochs 2 --lr 2e-4 \
        --pen-renders 1 --style-fraction 0 --mnist-limit 30000 --out /tmp/paper      # 6 min on 2 CPU cores
    python train_model.py --grow /tmp/paper/model.keras --members 3 --epochs 20 --patience 20 \
        --paper-repeat 1 --out /tmp/three                                             # 30 min
    python train_model.py --fine-tune /tmp/three/model.keras --paper-repeat 1 --epochs 3 --lr 2e-4 --decay \
        --pen-renders 1 --style-fraction 0.25 --out /tmp/tuned                        # 13 min, measuring included
    python train_model.py --grow /tmp/tuned/model.keras --members 4 --epochs 20 --patience 20 \
        --paper-repeat 1 --out /tmp/four                                              # 30 min
    python train_model.py --fine-tune /tmp/four/model.keras --keep 1 2 3 --paper-repeat 1 --epochs 3 --lr 2e-4 \
        --decay --pen-renders 1 --style-fraction 0.25                                 # 13 min
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from mnist_app import ASSETS_DIR
from mnist_app.data import load_mnist, mnist_md5s
from mnist_app.feedback import FeedbackStore, default_db_path, training_split
from mnist_app.handwriting import (PEN_ASPECT, PEN_TRAINING_SLANT, load_kensanata_digits, load_pen_digits,
                                   load_usps_digits, paper_training_inputs, pen_training_inputs, split_parts)
from mnist_app.metrics import classification_report
from mnist_app.plots import plot_training_curves


FEEDBACK_REPEAT = 10


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, nargs="+", default=[20, 40],
                   help="maximum epochs of each member, in order (the last value for the rest)")
    p.add_argument("--members", type=int, default=2,
                   help="ensemble size, members trained one after another (the shipped model has 2, of "
                        "20 and 40 epochs: on 2 CPU cores about 80 and 50 min)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (Adam)")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--val-size", type=int, default=5000, help="validation digits carved from the 60k")
    p.add_argument("--patience", type=int, nargs="+", default=[8, 40],
                   help="early-stopping patience in epochs of each member, in order (the last value for the rest)")
    p.add_argument("--style-fraction", type=float, default=0.25,
                   help="fraction of 7s / 1s / 0s copied with a crossbar / flag / slash")
    p.add_argument("--pen-renders", type=int, default=3,
                   help="canvas renders of each training pen digit (random size, aspect, slant, pen)")
    p.add_argument("--pen-slant", type=float, default=PEN_TRAINING_SLANT,
                   help="training renders of pen digits lean by up to this either way (x shift per unit of height)")
    p.add_argument("--pen-aspect", type=float, nargs=2, default=PEN_ASPECT, metavar=("LOW", "HIGH"),
                   help="training renders of pen digits are LOW-HIGH times as wide as tall")
    p.add_argument("--paper-repeat", type=int, default=0,
                   help="copies of the training parts of the USPS scans and the kensanata16 forms (0: none)")
    p.add_argument("--mnist-limit", type=int, default=None, help="only the first N MNIST training digits")
    p.add_argument("--fine-tune", type=Path, metavar="MODEL",
                   help="start every member from this saved ensemble's weights and train it for --epochs at "
                        "--lr (constant, or falling with --decay), without augmentation or early stopping")
    p.add_argument("--decay", action="store_true",
                   help="with --fine-tune: the rate falls from --lr to 0 along a cosine over the epochs")
    p.add_argument("--out", type=Path, default=ASSETS_DIR, help="output folder")
    p.add_argument("--grow", type=Path, nargs="+", metavar="MODEL",
                   help="keep the members of these saved ensembles, in order (and their history, from the "
                        "report.json beside each) and train only the missing ones up to --members")
    p.add_argument("--include-feedback", nargs="?", type=str, const=str(default_db_path()), metavar="DB",
                   help="add the digits users labelled in the app to the training split (from DB: a file "
                        "or a postgresql:// URL, default $MNIST_FEEDBACK_DB or feedback.sqlite3); every 5th is held out "
                        "and the report gives the accuracy on those")
    p.add_argument("--keep", type=int, nargs="+", metavar="INDEX",
                   help="with --grow or --fine-tune: take only these members (counted from 0) of the saved "
                        "ensemble, in this order")
    p.add_argument("--calibrate-only", action="store_true",
                   help="train nothing: export the model in --out as the app's network again, refit its "
                        "calibration (the 'looks like a digit' checks, the temperature, the unsure threshold) "
                        "and measure it on every set")
    p.add_argument("--quick", action="store_true",
                   help="tiny run for tests: 2,000 training digits, one member, 2 epochs, 200 digits of each set")
    args = p.parse_args(argv)
    if args.keep and not (args.grow or args.fine_tune):
        p.error("--keep takes members of a saved ensemble: give it with --grow or --fine-tune")
    if args.quick:
        args.members, args.epochs, args.val_size = 1, [min(e, 2) for e in args.epochs], 500
    return args


def kept_members(count: int, keep: list[int] | None, source: str) -> list[int]:
    """Indices of the saved members that --keep names (all ``count`` without it), in its
    order; an index past the members is refused with a message naming ``source``."""
    if not keep:
        return list(range(count))
    missing = [i for i in keep if not -count <= i < count]
    if missing:
        raise SystemExit(f"--keep {' '.join(map(str, missing))}: {source} has {count} members, counted from 0")
    return list(keep)


def split_train_validation(x, y, val_size: int, seed: int):
    """Carve a seeded validation split out of the 60k training digits:
    returns (x_train, y_train), (x_val, y_val)."""
    order = np.random.default_rng(seed).permutation(len(x))
    val_idx, train_idx = order[:val_size], order[val_size:]
    return (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])


CALIBRATION_DIGITS = 30000  # MNIST training digits the feature statistics are fitted on


def save_network(model, model_path: Path):
    """Export the Keras ``model`` (saved at ``model_path``) as the LiteRT network the
    app reads with, beside it: the Network, and the report's "network" entry."""
    from mnist_app.litert import export_network
    from mnist_app.network import NETWORK_NAME, Network, model_version

    flatbuffer = export_network(model)
    (model_path.parent / NETWORK_NAME).write_bytes(flatbuffer)
    return Network(flatbuffer, threads=2), {"file": NETWORK_NAME, "exported_from": model_version(model_path),
                                            "runtime": "LiteRT (ai-edge-litert), builtin ops"}


def calibrate(network, fit_digits, fit_labels, x_val_f, y_val, out: Path, held_out_limit: int | None = None) -> dict:
    """Fit what the app shows about its confidence on digits the network was not
    trained on, and save the feature statistics beside the model. Returns the report's
    "calibration" entry.

    The "looks like a digit" checks: feature statistics (``mnist_app.novelty``) fitted
    on ``fit_digits`` uint8 (n, 28, 28) (training digits: MNIST's, pen renders, paper
    scans), and the top logit and feature distance that 99.5% of the held-out digits
    stay within. Then the temperature and the unsure threshold (``mnist_app.calibration``).
    Held out: the MNIST validation split x_val_f float32 (m, 28, 28), y_val, and the
    calibration parts of the pen digits, the USPS scans and the kensanata16 forms
    (``evaluation.CALIBRATION_SETS``; their first ``held_out_limit`` each), read as the
    app reads them.
    """
    from mnist_app.calibration import MAX_WRONG_BUT_SURE, fit_temperature, fit_unsure_below, wrong_but_sure_share
    from mnist_app.evaluation import CALIBRATION_SETS, LabelledPictures, load_set, pipeline_crops, read_crops
    from mnist_app.inference import Recognizer
    from mnist_app.novelty import FEATURE_STATS_NAME, HELD_OUT_PERCENTILE, fit_feature_density

    held_sets = {name: load_set(name, limit=held_out_limit) for name in CALIBRATION_SETS}
    held_crops = {name: pipeline_crops(pictures) for name, pictures in held_sets.items()}
    one_digit = {name: [i for i, crops in enumerate(c) if len(crops) == 1] for name, c in held_crops.items()}
    held_images = {name: np.stack([held_crops[name][i][0].image for i in one_digit[name]]) for name in held_sets}
    density = fit_feature_density(network, fit_digits.astype(np.float32) / 255, fit_labels,
                                  np.concatenate([x_val_f, *held_images.values()]))
    density.save(out / FEATURE_STATS_NAME)
    plain = Recognizer(network)
    val_logits = plain.raw_logits(x_val_f)
    held_logits = {name: plain.raw_logits(images) for name, images in held_images.items()}
    top_logits = np.concatenate([val_logits, *held_logits.values()]).max(axis=1)
    min_top_logit = float(np.percentile(top_logits, 100 - HELD_OUT_PERCENTILE))
    temperature = fit_temperature([(val_logits, y_val)] + [(held_logits[name], held_sets[name].labels[one_digit[name]])
                                                           for name in held_sets])
    # Unsure only by the checks (threshold 0), to choose the threshold on the confidence.
    calibrated = Recognizer(network, min_top_logit=min_top_logit, density=density,
                            temperature=temperature, unsure_below=0.0)
    mnist_crops = pipeline_crops(LabelledPictures("mnist_validation", list(x_val_f), y_val, "mnist"))
    readings = {"mnist_validation": read_crops(calibrated, mnist_crops, y_val)}
    for name, pictures in held_sets.items():
        readings[name] = read_crops(calibrated, held_crops[name], pictures.labels)
    held = [(r.confidence, r.correct, ~r.sure) for r in readings.values()]
    unsure_below = fit_unsure_below(held)
    return {"min_top_logit": min_top_logit, "percentile_of_validation_digits": 100 - HELD_OUT_PERCENTILE,
            "feature_stats": FEATURE_STATS_NAME, "max_feature_distance": density.max_distance,
            "temperature": temperature, "unsure_below": unsure_below, "max_wrong_but_sure": MAX_WRONG_BUT_SURE,
            "held_out": {name: {"n": int(len(r.labels)), "accuracy": float(r.correct.mean()),
                                "unsure": float(((~r.sure) | (r.confidence < unsure_below)).mean()),
                                "wrong_but_sure": wrong_but_sure_share(r.confidence, r.correct, ~r.sure,
                                                                       unsure_below)}
                         for name, r in readings.items()}}


def measure_real_sets(network, calibration: dict, out: Path, limit: int | None = None) -> dict:
    """Each measuring set read through the app's own path by the network with its
    calibration, as ``python -m mnist_app evaluate --set all`` reads them once the
    report is saved (the first ``limit`` digits of each with a limit): the report's "sets"."""
    from mnist_app import set_results
    from mnist_app.evaluation import SETS, available_sets, evaluate_set, load_set
    from mnist_app.inference import Recognizer
    from mnist_app.network import model_version
    from mnist_app.novelty import FeatureDensity

    recognizer = Recognizer(network, min_top_logit=calibration["min_top_logit"],
                            density=FeatureDensity.load(out / calibration["feature_stats"]),
                            temperature=calibration["temperature"], unsure_below=calibration["unsure_below"])
    sets = {}
    for name in available_sets():
        results = evaluate_set(recognizer, load_set(name, limit=limit))
        sets[name] = {**results["pipeline"].summary(), "baseline": results["baseline"].summary()}
        if name in SETS and limit is None:  # what the Model page shows, at once (never CVL: not ours to ship)
            set_results.save(results["pipeline"], set_results.shipped_dir(out / "model.keras") / f"{name}.npz",
                             model_version(out / "model.keras"))
        print(f"{name}: accuracy {sets[name]['accuracy']:.4f}, unsure {sets[name]['unsure']:.3f}, "
              f"wrong but sure {sets[name]['wrong_but_sure']:.4f} (plain baseline {sets[name]['baseline']['accuracy']:.4f})")
    return sets


def pen_training_renders(args, renders: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Real pen digits by writers outside MNIST (the training part of ``split_parts``,
    its first 300 with --quick), each drawn ``renders`` times as on the canvas at random
    sizes, aspects (``--pen-aspect``), slants (``--pen-slant``) and pen widths and read
    through the Draw page's own path: uint8 (n, 28, 28), uint8 (n,), and how many pen
    digits were drawn (none when ``renders`` is 0)."""
    if renders <= 0:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8), 0
    points, labels = load_pen_digits()
    train = split_parts(len(labels))[0]
    if args.quick:
        train = train[:300]
    return (*pen_training_inputs(points[train], labels[train], renders, args.seed, max_slant=args.pen_slant,
                                 aspect=tuple(args.pen_aspect)), len(train))


def paper_training_renders(args) -> tuple[np.ndarray, np.ndarray, int]:
    """Real digits on paper by writers outside MNIST: the training parts (``split_parts``)
    of the USPS scans and the kensanata16 forms (their first 300 each with --quick), each
    presented as a scan and read through the Photo page's own path, ``--paper-repeat``
    times over: uint8 (n, 28, 28), uint8 (n,), and how many paper digits were read."""
    if args.paper_repeat <= 0:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8), 0
    images, labels = [], []
    for load in (load_usps_digits, load_kensanata_digits):
        ink, digit_labels = load()
        train = split_parts(len(digit_labels))[0]
        if args.quick:
            train = train[:300]
        x, y = paper_training_inputs(ink[train], digit_labels[train], args.seed)
        images.append(x)
        labels.append(y)
    x_paper, y_paper = np.concatenate(images), np.concatenate(labels)
    return np.tile(x_paper, (args.paper_repeat, 1, 1)), np.tile(y_paper, args.paper_repeat), len(y_paper)


def recalibrate(args) -> dict:
    """--calibrate-only: export the saved model in ``args.out`` again, refit its checks and measure
    it again on every set."""
    from mnist_app.model import load_model

    (x_all, y_all), _ = load_mnist()
    (x_train, y_train), (x_val, y_val) = split_train_validation(x_all, y_all, args.val_size, args.seed)
    x_pen, y_pen, _ = pen_training_renders(args, args.pen_renders)  # as training fits them
    x_paper, y_paper, _ = paper_training_renders(args)
    report_path = args.out / "report.json"
    report = json.loads(report_path.read_text())
    model_path = args.out / "model.keras"
    network, report["network"] = save_network(load_model(model_path), model_path)
    report["calibration"] = calibrate(network, np.concatenate([x_train[:CALIBRATION_DIGITS], x_pen, x_paper]),
                                      np.concatenate([y_train[:CALIBRATION_DIGITS], y_pen, y_paper]),
                                      x_val.astype(np.float32) / 255, y_val, args.out)
    report["sets"] = measure_real_sets(network, report["calibration"], args.out)
    report_path.write_text(json.dumps(report, indent=1))
    print(f"calibration of {args.out / 'model.keras'}: {report['calibration']}")
    return report


def main(argv=None):
    args = parse_args(argv)
    if args.calibrate_only:
        return recalibrate(args)
    # Imported here so `--help` is instant.
    import keras
    import tensorflow as tf

    from mnist_app.augment import add_writing_styles, augmentation_layers
    from mnist_app.model import build_ensemble, build_member, ensemble_members, load_model, predict_probabilities
    from mnist_app.network import model_version

    keras.utils.set_random_seed(args.seed)
    started = time.time()
    args.out.mkdir(parents=True, exist_ok=True)

    # --- Data -------------------------------------------------------------------
    (x_all, y_all), (x_test, y_test) = load_mnist()
    (x_train, y_train), (x_val, y_val) = split_train_validation(x_all, y_all, args.val_size, args.seed)
    if args.quick:
        x_train, y_train = x_train[:2000], y_train[:2000]
    elif args.mnist_limit:
        x_train, y_train = x_train[:args.mnist_limit], y_train[:args.mnist_limit]
    x_styled, y_styled = add_writing_styles(x_train, y_train, args.style_fraction, args.seed)
    x_pen, y_pen, pen_digits = pen_training_renders(args, args.pen_renders)
    x_paper, y_paper, paper_digits = paper_training_renders(args)
    x_mnist, y_mnist = x_train, y_train
    x_train = np.concatenate([x_train, x_styled, x_pen, x_paper])
    y_train = np.concatenate([y_train, y_styled, y_pen, y_paper])
    if args.include_feedback:
        # Users' digits join the training split only; repeated, so a few hundred of
        # them weigh against 55k MNIST digits.
        (x_users, y_users), (x_users_held, y_users_held) = training_split(FeedbackStore(args.include_feedback))
        x_train = np.concatenate([x_train, np.repeat(x_users, FEEDBACK_REPEAT, axis=0)])
        y_train = np.concatenate([y_train, np.repeat(y_users, FEEDBACK_REPEAT, axis=0)])
        print(f"feedback: {len(x_users)} user digits (x{FEEDBACK_REPEAT}) added to training, "
              f"{len(x_users_held)} held out")
    print(f"train {len(x_train)} (incl. {len(x_styled)} styled 7s/1s/0s, {len(x_pen)} renders of "
          f"{pen_digits} pen digits, {len(x_paper)} scans of {paper_digits} paper digits), "
          f"validation {len(x_val)}, test {len(x_test)}")

    def as_input(x):  # uint8 (n, 28, 28) -> float32 (n, 28, 28, 1) in [0, 1]
        return (x.astype(np.float32) / 255.0)[..., None]

    train_ds = (
        tf.data.Dataset.from_tensor_slices((as_input(x_train), y_train.astype(np.int32)))
        .shuffle(len(x_train), seed=args.seed, reshuffle_each_iteration=True)
        .batch(args.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_data = (as_input(x_val), y_val.astype(np.int32))
    steps_per_epoch = int(np.ceil(len(x_train) / args.batch_size))

    # --- Model and training: one member at a time --------------------------------
    members, histories = [], []
    if args.grow:
        for saved in args.grow:
            members += ensemble_members(load_model(saved))
            histories += json.loads(saved.with_name("report.json").read_text())["training"]["history"]
        kept = kept_members(len(members), args.keep, ", ".join(map(str, args.grow)))
        members, histories = [members[i] for i in kept], [histories[i] for i in kept]
        if len({member.name for member in members}) < len(members):
            raise SystemExit(f"the members kept ({', '.join(member.name for member in members)}) must have different "
                             f"names: keep one of each with --keep")
        print(f"keeping {len(members)} members of {', '.join(map(str, args.grow))}")
    start_from = []
    if args.fine_tune:
        start_from = ensemble_members(load_model(args.fine_tune))
        start_from = [start_from[i] for i in kept_members(len(start_from), args.keep, str(args.fine_tune))]
        args.members = len(start_from)
        print(f"fine-tuning the {len(start_from)} members of {args.fine_tune}")
    verbose = 1 if sys.stdout.isatty() else 2
    for m in range(len(members), args.members):
        print(f"\n=== member {m + 1}/{args.members} ===")
        keras.utils.set_random_seed(args.seed + m)  # each member reproducible on its own
        epochs, patience = args.epochs[min(m, len(args.epochs) - 1)], args.patience[min(m, len(args.patience) - 1)]
        image = keras.Input((28, 28, 1))
        if start_from:
            # Small steps from where it is, on the inputs as the app makes them: no warps.
            member = start_from[m]
            trainer = keras.Model(image, member(image))
            rate = (keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=epochs * steps_per_epoch, alpha=0.0)
                    if args.decay else args.lr)
            optimizer, callbacks = keras.optimizers.Adam(rate), []
        else:
            member = build_member(f"member{m + 1}")
            trainer = keras.Model(image, member(augmentation_layers(seed=args.seed + 100 * m)(image)))
            # Linear warm-up for one epoch, then cosine decay to 1% of the peak.
            schedule = keras.optimizers.schedules.CosineDecay(
                initial_learning_rate=args.lr / 10,
                decay_steps=max(1, (epochs - 1) * steps_per_epoch),
                alpha=0.01,
                warmup_target=args.lr,
                warmup_steps=steps_per_epoch,
            )
            optimizer = keras.optimizers.Adam(schedule)
            callbacks = [keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=patience, restore_best_weights=True, verbose=1)]
        trainer.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        history = trainer.fit(train_ds, epochs=epochs, validation_data=val_data,
                              callbacks=callbacks, verbose=verbose)
        members.append(member)
        histories.append({k: [float(v) for v in vals] for k, vals in history.history.items()})

    # The saved model holds only the inference graph: no augmentation, no optimizer.
    model = build_ensemble(members)

    # --- Evaluate: validation per member, then the test set once -------------------
    x_val_f, x_test_f = x_val.astype(np.float32) / 255, x_test.astype(np.float32) / 255
    member_val_acc = [
        float((predict_probabilities(build_ensemble([mem]), x_val_f).argmax(1) == y_val).mean())
        for mem in members
    ]
    val_acc = float((predict_probabilities(model, x_val_f).argmax(1) == y_val).mean())
    test_probabilities = predict_probabilities(model, x_test_f)
    report = classification_report(y_test, test_probabilities.argmax(1))
    wall = time.time() - started
    print(f"\nvalidation accuracy: members {member_val_acc}, ensemble {val_acc:.4f}")
    print(f"test accuracy: {report['accuracy']:.4f} ({report['n'] - report['errors']}/{report['n']})")
    if args.include_feedback:
        users_held_report = classification_report(
            y_users_held, predict_probabilities(model, x_users_held.astype(np.float32) / 255).argmax(1))
        print(f"accuracy on {len(y_users_held)} held-out user digits: {users_held_report['accuracy']:.4f}")

    # --- Save ----------------------------------------------------------------------
    model_path = args.out / "model.keras"
    model.save(model_path)
    network, network_entry = save_network(model, model_path)
    # Inputs beyond these are flagged as "does not look like a digit".
    calibration = calibrate(network, np.concatenate([x_mnist[:CALIBRATION_DIGITS], x_pen, x_paper]),
                            np.concatenate([y_mnist[:CALIBRATION_DIGITS], y_pen, y_paper]), x_val_f, y_val, args.out,
                            held_out_limit=200 if args.quick else None)
    full = {
        "model_file": model_path.name,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "test": report,
        "validation_accuracy": val_acc,
        "calibration": calibration,
        # MNIST test digits, held-out pen digits, USPS scans, read as the app reads them.
        "network": network_entry,
        "sets": measure_real_sets(network, calibration, args.out, limit=200 if args.quick else None),
        "member_validation_accuracy": member_val_acc,
        "architecture": {
            "members": args.members,
            "member": "Conv32x3-Conv32x3-Conv32x5s2-Drop-Conv64x3-Conv64x3-Conv64x5s2-Drop-"
                      "Conv128x4-Drop-Dense10 (BN+ReLU after each conv); logits averaged",
            "parameters": int(model.count_params()),
        },
        "training": {
            "epochs_max": args.epochs,
            "patience": args.patience,
            "epochs_run": [len(h["loss"]) for h in histories],
            "batch_size": args.batch_size,
            "peak_lr": args.lr,
            "seed": args.seed,
            "grown_from": ", ".join(map(str, args.grow)) if args.grow else None,
            "fine_tuned_from": ({"model": str(args.fine_tune), "version": model_version(args.fine_tune)}
                                if args.fine_tune else None),
            "command": " ".join(["python train_model.py", *(argv if argv is not None else sys.argv[1:])]),
            "mnist_digits": int(len(x_mnist)),
            "paper_digits": paper_digits,
            "paper_scans": int(len(x_paper)),
            "train_size": int(len(x_train)),
            "styled_extra": int(len(x_styled)),
            "pen_digits": pen_digits,
            "pen_renders": int(len(x_pen)),
            "pen_slant": args.pen_slant,
            "pen_aspect": list(args.pen_aspect),
            "validation_size": int(len(x_val)),
            "quick": args.quick,
            "wall_time_s": round(wall, 1),
            "history": histories,
        },
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "data_md5": mnist_md5s(),
    }
    if args.include_feedback:
        full["feedback"] = {
            "db": str(FeedbackStore(args.include_feedback).path),  # a URL's password as ***
            "train": int(len(x_users)),
            "repeat": FEEDBACK_REPEAT,
            "held_out": users_held_report,
        }
    (args.out / "report.json").write_text(json.dumps(full, indent=1))
    plot_training_curves(histories, args.out / "training_curves.png")
    print(f"saved {model_path}, report.json and training_curves.png in {args.out} ({wall:.0f} s)")
    return full


if __name__ == "__main__":
    main()
