"""Vectorised NumPy DP-SGD: the reference Cloister's trainer is benchmarked against (scripts/bench-dpsgd).

The same algorithm as Sources/Learning/DPSGD.swift: the features' private centre (rows clipped to sqrt(d)/2, noise
multiplier CENTRING, 0 for none) released once, then Poisson sampling at q = batch / n, per-example gradients of
logistic or softmax regression, or of a one-hidden-layer tanh MLP (HIDDEN units), computed for the whole batch at once
on the centred features, clipping to C, Gaussian noise sigma*C, division by the expected batch, SGD. Every layer's
per-example gradient is an outer product, so its norm is known without forming it and the clipped sum is a matrix
product (ghost clipping). Features are mapped by the same public-bounds schema. Noise comes
from NumPy's PCG64 (faster than OpenSSL's DRBG, which Cloister uses), so the comparison favours NumPy.

usage: dpsgd_numpy.py CSV SCHEMA MODEL BATCH EPOCHS SIGMA [LR [CENTRING [HIDDEN]]]
prints `numpy-dpsgd-<model> EXAMPLES_PER_SECOND` and the test accuracy on stderr.
"""

import json
import sys
import time

import numpy as np


def load(csv_path, schema_path):
    with open(csv_path) as handle:
        header = handle.readline().strip().split(",")
    table = np.loadtxt(csv_path, delimiter=",", skiprows=1)
    label = header.index("label")
    names = [name for name in header if name != "label"]
    features = np.delete(table, label, axis=1)
    schema = json.load(open(schema_path))["features"]
    columns = []
    for index, name in enumerate(names):
        entry = schema[name]
        bounds, scale = (entry, "linear") if isinstance(entry, list) else (entry["bounds"], entry.get("scale", "linear"))
        low, high = bounds
        unit = (np.clip(features[:, index], low, high) - low) / (high - low)
        if scale == "log":
            unit = (np.log(0.1 + unit) - np.log(0.1)) / (np.log(1.1) - np.log(0.1))
        columns.append(2 * unit - 1)
    return np.stack(columns, axis=1), table[:, label].astype(int)


def train_mlp(xa, y, hidden, batch, steps, sigma, lr, clip, rng):
    n, width = xa.shape
    classes = y.max() + 1
    inner = rng.normal(0, 1 / np.sqrt(width), (width, hidden))
    outer = np.zeros((hidden + 1, classes))
    q = batch / n
    sampled = 0
    for _ in range(steps):
        mask = rng.random(n) < q
        xb, yb = xa[mask], y[mask]
        sampled += len(yb)
        h = np.tanh(xb @ inner)
        ha = np.hstack([h, np.ones((len(yb), 1))])
        logits = ha @ outer
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(yb)), yb] -= 1
        back = (p @ outer[:-1].T) * (1 - h * h)
        norms = np.sqrt((p**2).sum(axis=1) * (ha**2).sum(axis=1) + (back**2).sum(axis=1) * (xb**2).sum(axis=1))
        factor = np.minimum(1, clip / np.maximum(norms, 1e-12))[:, None]
        outer -= lr * (ha.T @ (p * factor) + rng.normal(0, sigma * clip, outer.shape)) / batch
        inner -= lr * (xb.T @ (back * factor) + rng.normal(0, sigma * clip, inner.shape)) / batch
    return lambda rows: np.hstack([np.tanh(rows @ inner), np.ones((len(rows), 1))]) @ outer, sampled


def train(x, y, model, batch, epochs, sigma, lr, centring, hidden=64, clip=1.0, seed=0):
    rng = np.random.default_rng(seed)
    n, d = x.shape
    classes = y.max() + 1
    q = batch / n
    steps = epochs * max(n // batch, 1)
    centre = np.zeros(d)
    if centring > 0:
        bound = np.sqrt(d) / 2
        norms = np.sqrt((x**2).sum(axis=1))
        clipped = x * np.minimum(1, bound / np.maximum(norms, 1e-12))[:, None]
        centre = np.clip((clipped.sum(axis=0) + rng.normal(0, centring * bound, d)) / n, -1, 1)
    xa = np.hstack([x - centre, np.ones((n, 1))])
    if model == "mlp":
        scores, sampled = train_mlp(xa, y, hidden, batch, steps, sigma, lr, clip, rng)
        return lambda rows: scores(np.hstack([rows - centre, np.ones((len(rows), 1))])), sampled
    width = 1 if model == "logistic" else classes
    weights = np.zeros((d + 1, width))
    sampled = 0
    for _ in range(steps):
        mask = rng.random(n) < q
        xb, yb = xa[mask], y[mask]
        sampled += len(yb)
        if model == "logistic":
            error = (1 / (1 + np.exp(-(xb @ weights)[:, 0])) - yb)[:, None]
        else:
            logits = xb @ weights
            logits -= logits.max(axis=1, keepdims=True)
            error = np.exp(logits)
            error /= error.sum(axis=1, keepdims=True)
            error[np.arange(len(yb)), yb] -= 1
        # Each example's gradient is the outer product of its row and its error: its norm is the product of theirs,
        # and the clipped sum one matrix product.
        norms = np.sqrt((error**2).sum(axis=1) * (xb**2).sum(axis=1))
        factor = np.minimum(1, clip / np.maximum(norms, 1e-12))[:, None]
        noisy = (xb.T @ (error * factor) + rng.normal(0, sigma * clip, weights.shape)) / batch
        weights -= lr * noisy
    weights[-1] -= centre @ weights[:-1]  # fold the centre into the biases
    return lambda rows: np.hstack([rows, np.ones((len(rows), 1))]) @ weights, sampled


def main():
    csv_path, schema_path, model, batch, epochs, sigma = sys.argv[1:7]
    lr = float(sys.argv[7]) if len(sys.argv) > 7 else 0.5
    centring = float(sys.argv[8]) if len(sys.argv) > 8 else 20.0
    hidden = int(sys.argv[9]) if len(sys.argv) > 9 else 64
    x, y = load(csv_path, schema_path)
    order = np.random.default_rng(0).permutation(len(y))
    test = order[: round(0.2 * len(y))]
    train_rows = order[round(0.2 * len(y)) :]
    start = time.perf_counter()
    scores_of, sampled = train(
        x[train_rows], y[train_rows], model, int(batch), int(epochs), float(sigma), lr, centring, hidden)
    seconds = time.perf_counter() - start
    scores = scores_of(x[test])
    predictions = (scores[:, 0] > 0).astype(int) if model == "logistic" else scores.argmax(axis=1)
    print(f"accuracy {np.mean(predictions == y[test]):.4f}", file=sys.stderr)
    print(f"numpy-dpsgd-{model} {sampled / seconds:.1f}")


if __name__ == "__main__":
    main()
