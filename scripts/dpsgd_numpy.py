"""Vectorised NumPy DP-SGD: the reference Cloister's trainer is benchmarked against (scripts/bench-dpsgd).

The same algorithm as Sources/Learning/DPSGD.swift: the features' private centre (rows clipped to sqrt(d)/2, noise
multiplier CENTRING, 0 for none) released once, then Poisson sampling at q = batch / n, per-example gradients of
logistic or softmax regression computed for the whole batch at once on the centred features, clipping to C, Gaussian
noise sigma*C, division by the expected batch, SGD. Features are mapped by the same public-bounds schema. Noise comes
from NumPy's PCG64 (faster than OpenSSL's DRBG, which Cloister uses), so the comparison favours NumPy.

usage: dpsgd_numpy.py CSV SCHEMA MODEL BATCH EPOCHS SIGMA [LR [CENTRING]]
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


def train(x, y, model, batch, epochs, sigma, lr, centring, clip=1.0, seed=0):
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
    width = 1 if model == "logistic" else classes
    weights = np.zeros((d + 1, width))
    sampled = 0
    for _ in range(steps):
        mask = rng.random(n) < q
        xb, yb = xa[mask], y[mask]
        sampled += len(yb)
        if model == "logistic":
            residual = 1 / (1 + np.exp(-(xb @ weights)[:, 0])) - yb
            gradients = (xb * residual[:, None])[:, :, None]
        else:
            logits = xb @ weights
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1
            gradients = xb[:, :, None] * p[:, None, :]
        norms = np.sqrt((gradients**2).sum(axis=(1, 2)))
        gradients *= np.minimum(1, clip / np.maximum(norms, 1e-12))[:, None, None]
        noisy = (gradients.sum(axis=0) + rng.normal(0, sigma * clip, weights.shape)) / batch
        weights -= lr * noisy
    weights[-1] -= centre @ weights[:-1]  # fold the centre into the biases
    return weights, sampled


def main():
    csv_path, schema_path, model, batch, epochs, sigma = sys.argv[1:7]
    lr = float(sys.argv[7]) if len(sys.argv) > 7 else 0.5
    centring = float(sys.argv[8]) if len(sys.argv) > 8 else 20.0
    x, y = load(csv_path, schema_path)
    order = np.random.default_rng(0).permutation(len(y))
    test = order[: round(0.2 * len(y))]
    train_rows = order[round(0.2 * len(y)) :]
    start = time.perf_counter()
    weights, sampled = train(x[train_rows], y[train_rows], model, int(batch), int(epochs), float(sigma), lr, centring)
    seconds = time.perf_counter() - start
    xt = np.hstack([x[test], np.ones((len(test), 1))])
    scores = xt @ weights
    predictions = (scores[:, 0] > 0).astype(int) if model == "logistic" else scores.argmax(axis=1)
    print(f"accuracy {np.mean(predictions == y[test]):.4f}", file=sys.stderr)
    print(f"numpy-dpsgd-{model} {sampled / seconds:.1f}")


if __name__ == "__main__":
    main()
