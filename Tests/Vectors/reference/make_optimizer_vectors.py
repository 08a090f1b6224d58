"""Writes optimizer_vectors.json: Flower's server optimizers (FedAvgM, FedAdam, FedYogi, FedAdagrad) run for a few
rounds on fixed client results, the reference ServerOptimizerTests replays through Cloister's `ServerOptimizer`.

Each strategy class is flwr's own (`flwr.server.strategy`), driven through `aggregate_fit` exactly as Flower's server
drives it: the same initial parameters (two arrays) and, every round, the same results of three clients with
different example counts. Every input is a float32 value (the aggregator's wire format) held in float64, as is all of
Flower's arithmetic here, so the outputs are Flower's to double precision.

usage: .venv/bin/pip install flwr==1.42.0 && .venv/bin/python Tests/Vectors/reference/make_optimizer_vectors.py
(flwr is not in Tests/Interop/requirements.txt: the JSON is committed.)
"""

import json
import os
import warnings

import flwr
import numpy as np
from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server.strategy import FedAdagrad, FedAdam, FedAvgM, FedYogi

ROUNDS = 4
EXAMPLES = [[10, 30, 60], [25, 5, 70], [40, 40, 20], [1, 2, 97]]


def float32(values):
    return np.asarray(values, dtype=np.float32).astype(np.float64)


def inputs():
    generator = np.random.default_rng(22)
    initial = [float32(generator.normal(0, 1, (2, 2))), float32(generator.normal(0, 1, 3))]
    rounds = []
    for examples in EXAMPLES:
        clients = []
        for count in examples:
            layers = [float32(layer + generator.normal(0.3, 0.5, layer.shape)) for layer in initial]
            clients.append({"layers": layers, "num_examples": count})
        rounds.append(clients)
    return initial, rounds


# (Cloister's spelling, flwr class, its keyword arguments); the spellings without parameters take Flower's defaults.
CASES = [
    ("fedavgm", FedAvgM, {}),
    ("fedavgm:0.5", FedAvgM, {"server_learning_rate": 0.5}),
    ("fedavgm:1:0.9", FedAvgM, {"server_momentum": 0.9}),
    ("fedavgm:0.7:0.5", FedAvgM, {"server_learning_rate": 0.7, "server_momentum": 0.5}),
    ("fedadam", FedAdam, {}),
    ("fedadam:0.05:0.8:0.95:0.001", FedAdam, {"eta": 0.05, "beta_1": 0.8, "beta_2": 0.95, "tau": 0.001}),
    ("fedyogi", FedYogi, {}),
    ("fedyogi:0.1:0.5:0.9:0.01", FedYogi, {"eta": 0.1, "beta_1": 0.5, "beta_2": 0.9, "tau": 0.01}),
    ("fedadagrad", FedAdagrad, {}),
    ("fedadagrad:0.3:0.01", FedAdagrad, {"eta": 0.3, "tau": 0.01}),
]


def run(strategy_class, arguments, initial, rounds):
    strategy = strategy_class(
        initial_parameters=ndarrays_to_parameters(initial), fit_metrics_aggregation_fn=lambda _: {}, **arguments
    )
    published = []
    for number, clients in enumerate(rounds, start=1):
        results = [
            (
                None,
                FitRes(
                    status=Status(code=Code.OK, message=""),
                    parameters=ndarrays_to_parameters(client["layers"]),
                    num_examples=client["num_examples"],
                    metrics={},
                ),
            )
            for client in clients
        ]
        parameters, _ = strategy.aggregate_fit(number, results, [])
        published.append([layer.tolist() for layer in parameters_to_ndarrays(parameters)])
    return published


def main():
    warnings.simplefilter("ignore")
    initial, rounds = inputs()
    document = {
        "about": (
            f"Server optimizer vectors computed with Flower (flwr {flwr.__version__}, Apache-2.0) strategy classes "
            "FedAvgM, FedAdam, FedYogi and FedAdagrad: aggregate_fit for rounds 1..4 on the fixed client results "
            "below (FedAvg-weighted by num_examples, then the server optimizer), starting from `initial`. Layers are "
            "flattened in order as Cloister flattens a model. Written by make_optimizer_vectors.py."
        ),
        "flwr_version": flwr.__version__,
        "initial": [layer.tolist() for layer in initial],
        "rounds": [
            [{"layers": [layer.tolist() for layer in client["layers"]], "num_examples": client["num_examples"]}
             for client in clients]
            for clients in rounds
        ],
        "cases": [
            {"spec": spec, "flwr": f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in args.items())})",
             "expected": run(cls, args, initial, rounds)}
            for spec, cls, args in CASES
        ],
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizer_vectors.json")
    with open(path, "w") as handle:
        json.dump(document, handle, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main()
