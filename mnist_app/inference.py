"""Reading digits: the network's outputs turned into readings, and saliency.

``Recognizer`` runs the exported network (``mnist_app.network``: LiteRT, ~0.5 ms for
one drawing) and decides what a reading is: probabilities with the fitted temperature,
the checks of whether an input looks like a digit, a profile's examples blended in.

Every digit is read once, as drawn (docs/experiments.md: why not in several views).

Saliency answers "which pixels pushed the model towards this digit": gradients of the
chosen digit's *logit* (not its probability, which saturates) with respect to the
28x28 input. Positive values are evidence for the digit, negative against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from mnist_app.network import NUM_CLASSES, Network, load_calibration
from mnist_app.novelty import FeatureDensity, load_feature_density
from mnist_app.personal import AS_DRAWN, Evidence, Examples, Straightening, blend, example_vectors, fit_straightening
from mnist_app.preprocess import DigitCrop, ink_from_picture
from mnist_app.segmentation import segment_digits

SALIENCY_METHODS = ("gradient", "smoothgrad", "integrated")
SMOOTHGRAD_SAMPLES = 25
SMOOTHGRAD_NOISE = 0.15
INTEGRATED_STEPS = 32
# Below this top probability the app says it is unsure and shows the top two, unless
# the model's calibration (report.json) fitted another threshold.
UNSURE_BELOW = 0.70


@dataclass
class DigitReading:
    """One digit read: its crop, the ten probabilities (float32 (10,)) and verdict.

    ``looks_like_digit`` is False when the top logit is lower than nearly every real
    digit's (fitted by ``train_model.calibrate``), or the network's features lie farther
    from every digit class than nearly every real digit's (``novelty``): the model
    sees no digit it knows.
    """

    crop: DigitCrop
    probabilities: np.ndarray
    looks_like_digit: bool = True
    unsure_below: float = UNSURE_BELOW
    evidence: Evidence | None = None  # how the profile's examples changed it (None: read without)

    @property
    def digit(self) -> int:
        return int(self.probabilities.argmax())

    @property
    def confidence(self) -> float:
        return float(self.probabilities.max())

    @property
    def shared_probabilities(self) -> np.ndarray:
        """float32 (10,): what the shared network alone read."""
        return self.probabilities if self.evidence is None else self.evidence.shared_probabilities

    @property
    def shared_digit(self) -> int:
        return int(self.shared_probabilities.argmax())

    @property
    def straightened(self) -> bool:
        """Whether the digit was read straightened for the profile's writing."""
        return self.evidence is not None and self.evidence.straightened_input is not None

    @property
    def model_input(self) -> np.ndarray:
        """float32 (28, 28): what the network read (the crop, or it straightened)."""
        return self.evidence.straightened_input if self.straightened else self.crop.image

    @property
    def from_examples(self) -> tuple[int, ...]:
        """The ids of the profile's examples this reading is said to come from (like
        these, it is a ``digit``); () when it is the network's own."""
        if self.evidence is None or not self.evidence.shown_for(self.digit):
            return ()
        return self.evidence.like(self.digit)

    @property
    def top_two(self) -> list[tuple[int, float]]:
        order = np.argsort(self.probabilities)[::-1][:2]
        return [(int(d), float(self.probabilities[d])) for d in order]

    @property
    def unsure(self) -> bool:
        """Low confidence, an input unlike any digit the model knows, or a region
        whose size or shape does not look like a digit."""
        return self.confidence < self.unsure_below or not self.looks_like_digit or self.crop.doubt is not None


@dataclass
class Reading:
    """Everything read from one drawing or photo, digits left to right."""

    digits: list[DigitReading] = field(default_factory=list)

    @property
    def number(self) -> str:
        return "".join(str(d.digit) for d in self.digits)

    @property
    def empty(self) -> bool:
        return not self.digits

    def to_json(self) -> dict:
        return {
            "digits": [
                {
                    "digit": d.digit,
                    "confidence": round(d.confidence, 6),
                    "probabilities": [round(float(p), 6) for p in d.probabilities],
                    "box": list(d.crop.box),
                    "unsure": d.unsure,
                    "looks_like_digit": d.looks_like_digit,
                    "shared_digit": d.shared_digit,
                    "shared_confidence": round(float(d.shared_probabilities.max()), 6),
                    "like_your_examples": list(d.from_examples),
                    "straightened": d.evidence.straightening.describe() if d.straightened else None,
                }
                for d in self.digits
            ],
            "number": self.number,
        }


class Recognizer:
    """The network plus what a reading means: temperature, checks, saliency.

    network: the exported network (``Network.from_file``, or ``Network`` over the
    bytes ``litert.export_network`` made of a model being trained).
    min_top_logit: inputs whose top logit is below it are flagged as not looking like
    a digit (None: no such check), normally the model report's calibration value.
    density: inputs whose features lie outside it are flagged too (None: no such
    check), normally ``novelty.load_feature_density`` of the model file.
    temperature: the logits are divided by it before the softmax (temperature scaling,
    fitted on held-out real digits so the probabilities shown match how often such
    readings are right); the top logits and the saliency use the raw logits.
    unsure_below: readings less probable than this are flagged unsure.
    """

    def __init__(self, network: Network, min_top_logit: float | None = None, density: FeatureDensity | None = None,
                 temperature: float = 1.0, unsure_below: float = UNSURE_BELOW):
        self.network = network
        self.min_top_logit = min_top_logit
        self.density = density
        self.temperature = float(temperature)
        self.unsure_below = float(unsure_below)
        self._smoothgrad_noise = np.random.default_rng(0).normal(
            0, SMOOTHGRAD_NOISE, (SMOOTHGRAD_SAMPLES, 28, 28)).astype(np.float32)

    @classmethod
    def from_file(cls, model_path, threads: int = 1, interpreters: int = 1) -> "Recognizer":
        """The network exported from the model file, with its calibration beside it: the
        top-logit threshold, the temperature and the unsure threshold from report.json
        and the feature statistics (any may be missing: no such check, or the defaults).
        threads: per network call; 1 to serve sessions, the machine's cores for batch work.
        interpreters: network calls that can run at once (``Network``)."""
        calibration = load_calibration(model_path)
        return cls(Network.from_file(model_path, threads, interpreters),
                   min_top_logit=calibration.get("min_top_logit"), density=load_feature_density(model_path),
                   temperature=calibration.get("temperature", 1.0),
                   unsure_below=calibration.get("unsure_below", UNSURE_BELOW))

    def with_own_network(self) -> "Recognizer":
        """The same reader over a network of its own (one interpreter): background work
        on it never waits for the sessions' readings, nor they for it."""
        return Recognizer(self.network.another(), self.min_top_logit, self.density, self.temperature,
                          self.unsure_below)

    # --- public API --------------------------------------------------------------
    def predict(self, images: np.ndarray) -> np.ndarray:
        """float32 (n, 28, 28) in [0, 1] -> float32 (n, 10) probabilities."""
        return self.classify(images)[0]

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float32 (n, 28, 28) -> probabilities float32 (n, 10), top logits float32 (n,)
        and the network's last hidden features float32 (n, d)."""
        images = np.asarray(images, np.float32).reshape(-1, 28, 28)
        logits, features = self.network.read(images)
        return _softmax(logits / self.temperature), logits.max(axis=1), features

    def judge(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """float32 (n, 28, 28) -> the top probability float32 (n,) and whether each
        looks like a digit, bool (n,): what segmentation weighs pieces of ink by
        (``segmentation.join_by_reading``)."""
        probabilities, top_logits, features = self.classify(images)
        return probabilities.max(axis=1), self.looks_like_digit(top_logits, features)

    def raw_logits(self, images: np.ndarray) -> np.ndarray:
        """float32 (n, 28, 28) -> the network's logits float32 (n, 10), before the
        temperature: what the calibration is fitted on."""
        images = np.asarray(images, np.float32).reshape(-1, 28, 28)
        return self.network.read(images)[0]

    def looks_like_digit(self, top_logits: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """bool (n,): which inputs are in the range of real digits, by their top logit
        and, with a ``density``, their features float32 (n, d)."""
        flags = np.ones(len(top_logits), bool)
        if self.min_top_logit is not None:
            flags &= np.asarray(top_logits) >= self.min_top_logit
        if self.density is not None and features is not None:
            flags &= self.density.looks_like_digit(features)
        return flags

    def example_vectors(self, images: np.ndarray, straightening: Straightening = AS_DRAWN) -> np.ndarray:
        """float32 (n, 28, 28) inputs -> what ``personal`` compares them by, float32 (n, D),
        once straightened."""
        images = straightening.apply(np.asarray(images, np.float32).reshape(-1, 28, 28))
        return example_vectors(images, self.classify(images)[2])

    def fit_straightening(self, images: np.ndarray, labels: np.ndarray) -> Straightening:
        """A profile's straightening (``personal.fit_straightening``) from its examples'
        inputs float32 (m, 28, 28) and labels uint8 (m,), read by this network."""
        def log_probabilities(images: np.ndarray) -> np.ndarray:
            return np.log(np.maximum(self.predict(images), 1e-12))

        return fit_straightening(images, labels, log_probabilities)

    def readings(self, crops: list[DigitCrop], probabilities: np.ndarray, top_logits: np.ndarray,
                 features: np.ndarray, examples: Examples | None = None) -> Reading:
        """Assemble a Reading from crops and their model outputs, read with a profile's
        ``examples`` when given (see ``personal.blend``; none: the network's reading).
        A profile that straightens its writing has its digits read again straightened
        (``DigitReading.model_input``); the crops stay as drawn."""
        evidence = [None] * len(crops)
        if examples is not None and len(examples) and crops:
            images = np.stack([c.image for c in crops])
            shared = probabilities
            if not examples.straightening.as_drawn:
                images = examples.straightening.apply(images)
                probabilities, top_logits, features = self.classify(images)
            probabilities, evidence = blend(probabilities, example_vectors(images, features), examples, shared)
            if not examples.straightening.as_drawn:
                evidence = [replace(e, straightened_input=image) for e, image in zip(evidence, images)]
        flags = self.looks_like_digit(top_logits, features)  # of what was read (straightened or not)
        return Reading([DigitReading(c, p, bool(f), self.unsure_below, e)
                        for c, p, f, e in zip(crops, probabilities, flags, evidence)])

    def read_many(self, crops_per_item: list[list[DigitCrop]], examples: Examples | None = None) -> list[Reading]:
        """One Reading per item (a picture's crops), every crop in batched model calls."""
        crops = [c for item in crops_per_item for c in item]
        outputs = self.classify(np.stack([c.image for c in crops]) if crops else np.zeros((0, 28, 28)))
        readings, start = [], 0
        for item in crops_per_item:
            end = start + len(item)
            readings.append(self.readings(item, *(o[start:end] for o in outputs), examples=examples))
            start = end
        return readings

    def predict_and_explain(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Probabilities float32 (n, 10), the input gradient of the digit read's logit
        float32 (n, 28, 28), the top logits float32 (n,) and the features float32 (n, d):
        one network call."""
        images = np.asarray(images, np.float32).reshape(-1, 28, 28)
        logits, features, gradients = self.network.explain(images)
        return _softmax(logits / self.temperature), gradients, logits.max(axis=1), features

    def read_and_explain(self, crops: list[DigitCrop],
                         examples: Examples | None = None) -> tuple[Reading, np.ndarray]:
        """The Draw page's hot path: Reading (with the profile's ``examples``) and the
        gradient saliency float32 (n, 28, 28) of each digit as read."""
        if not crops:
            return Reading(), np.zeros((0, 28, 28), np.float32)
        probabilities, gradients, top, features = self.predict_and_explain(np.stack([c.image for c in crops]))
        reading = self.readings(crops, probabilities, top, features, examples)
        for i, digit in enumerate(reading.digits):
            if digit.digit != digit.shared_digit:  # the gradient was of the network's own top digit
                gradients[i] = self.saliency(digit.crop.image, digit.digit)
        return reading, gradients

    def saliency(self, image: np.ndarray, digit: int, method: str = "gradient") -> np.ndarray:
        """Attribution map float32 (28, 28) for ``digit`` on one float32 (28, 28) input.

        "gradient": d logit / d pixel; "smoothgrad": its mean over noisy copies
        (less speckled); "integrated": Integrated Gradients from a black image (sums
        to logit(image) - logit(black)).
        """
        image = np.asarray(image, np.float32).reshape(28, 28)
        if method == "gradient":
            return self._logit_gradient(image[None], digit)[0]
        if method == "smoothgrad":
            return self._logit_gradient(image[None] + self._smoothgrad_noise, digit).mean(axis=0)
        if method == "integrated":
            # Riemann midpoint sum from the black-image baseline to the image, in one batch.
            alphas = (np.arange(INTEGRATED_STEPS, dtype=np.float32) + 0.5) / INTEGRATED_STEPS
            return image * self._logit_gradient(alphas[:, None, None] * image[None], digit).mean(axis=0)
        raise ValueError(f"unknown saliency method {method!r}; choose from {SALIENCY_METHODS}")

    def _logit_gradient(self, images: np.ndarray, digit: int) -> np.ndarray:
        """float32 (n, 28, 28) -> d logit[digit] / d pixel, float32 (n, 28, 28)."""
        weights = np.zeros((len(images), NUM_CLASSES), np.float32)
        weights[:, int(digit)] = 1
        return self.network.gradient(images, weights)

    def read_ink(self, ink: np.ndarray, examples: Examples | None = None) -> Reading:
        """float32 (H, W) ink in [0, 1] -> the digits read, left to right."""
        crops = segment_digits(ink, self.judge)
        if not crops:
            return Reading()
        return self.readings(crops, *self.classify(np.stack([c.image for c in crops])), examples=examples)

    def read_picture(self, rgba: np.ndarray, examples: Examples | None = None) -> Reading:
        """uint8 (H, W, 4) canvas image or clean picture of digits -> Reading."""
        return self.read_ink(ink_from_picture(rgba), examples)

    def warm_up(self) -> None:
        """Run every network call once so the first user action is fast: each signature
        in each interpreter, then the saliency methods' larger batches."""
        self.network.warm_up()
        blank = np.zeros((28, 28), np.float32)
        for method in SALIENCY_METHODS:
            self.saliency(blank, 0, method)


def _softmax(logits: np.ndarray) -> np.ndarray:
    """float32 (n, 10) -> float32 (n, 10), each row summing to 1."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
