"""Honest confidence: the probabilities shown should be how often such readings are right.

A network trained with cross-entropy is over-confident on inputs unlike its training
digits: the MNIST-only model showed 18% of the held-out pen digits wrong and as sure. Two numbers, both fitted on held-out real digits (the MNIST validation
split and the pen digits' calibration part, never a measuring set), fix what is shown:

- the **temperature** T (Guo et al., "On Calibration of Modern Neural Networks",
  2017): probabilities are softmax(logits / T), with T minimising the negative
  log-likelihood, each held-out set weighing the same however many digits it has;
  it changes no reading, only how sure each is;
- the **unsure threshold**: the lowest top probability at which, on every held-out
  set, at most ``MAX_WRONG_BUT_SURE`` of the readings are wrong while shown as sure.

Pure numpy over arrays; ``train_model.py`` gathers the logits and readings.
"""

from __future__ import annotations

import numpy as np

MAX_WRONG_BUT_SURE = 0.01  # on held-out digits; the measuring sets are held to 2%
UNSURE_RANGE = (0.5, 0.99)  # the threshold stays in here, in steps of 0.01
TEMPERATURE_RANGE = (0.25, 10.0)


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean -log softmax(logits / temperature)[label]: float (n, 10), int (n,) -> float."""
    scaled = np.asarray(logits, np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(scaled).sum(axis=1))
    return float((log_norm - scaled[np.arange(len(scaled)), np.asarray(labels)]).mean())


def fit_temperature(held_out: list[tuple[np.ndarray, np.ndarray]], steps: int = 60) -> float:
    """The temperature minimising the mean over held-out sets of each set's mean
    negative log-likelihood. held_out: [(logits float (n, 10), labels int (n,)), ...].
    The likelihood is unimodal in log T, so a golden-section search finds it."""
    def loss(log_t: float) -> float:
        return float(np.mean([negative_log_likelihood(x, y, np.exp(log_t)) for x, y in held_out]))

    low, high = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])
    ratio = (np.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(steps):
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return float(np.exp((low + high) / 2))


def wrong_but_sure_share(confidence: np.ndarray, correct: np.ndarray, flagged: np.ndarray,
                         unsure_below: float) -> float:
    """Share of readings wrong and shown as sure: not ``flagged`` (bool (n,), unsure for
    another reason) and ``confidence`` (float (n,)) at least ``unsure_below``."""
    sure = ~np.asarray(flagged) & (np.asarray(confidence) >= unsure_below)
    return float((sure & ~np.asarray(correct)).mean()) if len(sure) else 0.0


def fit_unsure_below(held_out: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                     max_wrong_but_sure: float = MAX_WRONG_BUT_SURE) -> float:
    """The lowest threshold in ``UNSURE_RANGE`` at which every held-out set has at most
    ``max_wrong_but_sure`` of its readings wrong while shown as sure (the top of the
    range when none does). held_out: [(confidence float (n,), correct bool (n,),
    flagged bool (n,)), ...], the confidence after the temperature."""
    low, high = UNSURE_RANGE
    for threshold in np.round(np.arange(low, high + 1e-9, 0.01), 2):
        if all(wrong_but_sure_share(c, ok, f, threshold) <= max_wrong_but_sure for c, ok, f in held_out):
            return float(threshold)
    return float(high)
