"""The floor under a DP-SGD step with an exact sum (scripts/bench-dpsgd): the step's matrix products alone, under
NumPy's OpenBLAS on one thread, for a batch of BATCH rows of FEATURES features and CLASSES classes, through a hidden
layer of HIDDEN units (0: softmax regression). The forward products run in float32 (they decide only each record's
error, which is clipped and checked exactly afterwards); the clipped sums in float64, the narrowest type in which the
products and sums of the records' integer grid units are exact, as Cloister forms them (FactoredGradientSum).

usage: dpsgd_floor.py FEATURES CLASSES HIDDEN BATCH
prints `products MILLISECONDS_PER_STEP PARAMETERS`: the median of 21 timings of 50 steps' products each.
"""

import sys
import time

import numpy as np


def main():
    features, classes, hidden, batch = (int(value) for value in sys.argv[1:5])
    rng = np.random.default_rng(0)
    widths = [features, hidden, classes] if hidden else [features, classes]
    layers = list(zip(widths, widths[1:]))
    parameters = sum((inputs + 1) * outputs for inputs, outputs in layers)
    weights = [rng.standard_normal(layer).astype(np.float32) for layer in layers]
    # Each layer's input and error for the batch, in both widths, made once: the floor is the products alone.
    inputs32 = [rng.standard_normal((batch, inputs)).astype(np.float32) for inputs, _ in layers]
    inputs64 = [layer_input.astype(np.float64) for layer_input in inputs32]
    errors32 = [rng.standard_normal((batch, outputs)).astype(np.float32) for _, outputs in layers]
    errors64 = [error.astype(np.float64) for error in errors32]

    def step():
        # Forward through every layer, and the errors back through all but the first, in float32; then each layer's
        # clipped sum, error' @ input, in float64.
        for index, weight in enumerate(weights):
            inputs32[index] @ weight
            if index > 0:
                errors32[index] @ weight.T
            errors64[index].T @ inputs64[index]

    step()
    timings = []
    for _ in range(21):
        start = time.perf_counter()
        for _ in range(50):
            step()
        timings.append((time.perf_counter() - start) / 50)
    print(f"products {sorted(timings)[10] * 1e3:.3f} {parameters}")


if __name__ == "__main__":
    main()
