"""The Flower app `scripts/bench-federation` runs beside `cloister fl simulate`: the same federation on Flower's
simulation engine (`flwr.simulation.run_simulation`, Ray backend, one ClientApp actor per core), NumPy models, no torch.

It computes what Cloister's federation computes:
- data: a CSV with a header and an integer label column; with a schema (Datasets/README.md) every feature is clipped
  to its public bounds and mapped onto [-1, 1] (linear, or log for `"scale": "log"`), as FeatureSchema.transform does;
  without one the raw values. The class count is the schema's "classes", else the largest label + 1. A seeded 80/20
  train/test split (NumPy's generator, not Cloister's SplitMix64: the same fractions, other rows).
- partition of the training rows over N clients: `iid` (shuffle, client i gets rows i, i+N, ...) or `sample:K` (each
  client draws K distinct training rows uniformly, independently of the others: shares overlap).
- models, one flat float64 vector in Cloister's layout (Sources/Learning/Model.swift): logistic [w, b] (zeros),
  softmax K rows [w_k, b_k] (zeros), mlp H rows [v_j, c_j] of tanh units then K rows [w_k, b_k] over [h, 1] (Glorot
  uniform weights, zero biases); cross-entropy loss. `auto` is Cloister's default: logistic for 2 classes, else softmax.
- local training (Sources/Federated/LocalTraining.swift): EPOCHS passes of shuffled minibatch SGD over the client's
  rows, gradient = mean over the batch, theta -= lr * gradient.
- server: FedAvg weighted by example counts over every client each round, or a cohort of M = --clients-per-round
  (Flower samples exactly M uniformly; Cloister's enclave samples each client with q = M/N); the global model travels
  as float32 as Cloister's signed models do; after each round the global model's accuracy on the held-out 20 %,
  centrally (evaluate_fn); no client-side evaluation.
- DP (--dp-noise-multiplier Z --clip C): Flower's DifferentialPrivacyServerSideFixedClipping around FedAvg: each
  update theta_i - theta clipped to C, the example-weighted mean of the clipped models, Gaussian noise of std Z*C/M.
  (Cloister divides the sum of clipped updates by the expected cohort M, unweighted; with IID equal shares and a
  fixed cohort the two agree up to the noise draw.) Flower's accountant is not used: Cloister reports epsilon.

Prints one JSON line: {"clients", "rounds", "accuracy", "test_examples", "seconds", "rounds_per_second",
"total_seconds", "rounds_seconds", "engine"}: seconds = from the call of run_simulation (Ray's start included) to the
final evaluation; total_seconds = from the interpreter's start (imports and data loading included) to the same
point; rounds_seconds = from the evaluation of the initial model (the server running) to the final one;
rounds_per_second = rounds / seconds.

usage: flower_app.py --data CSV --label NAME [--schema FILE] --clients N [--rounds R] [--partition iid|sample:K]
       [--model auto|logistic|softmax|mlp] [--hidden-units 32] [--local-epochs 2] [--batch-size 16] [--lr 1]
       [--clients-per-round M] [--dp-noise-multiplier Z --clip C] [--seed S] [--metrics FILE.csv] [--verbose]
"""

import time

PROCESS_START = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

CONFIG_VARIABLE = "CLOISTER_FLOWER_BENCH_CONFIG"


# ---------------------------------------------------------------------------------------------------------------------
# Data: the same preprocessing as Dataset(csvAt:label:schema:) and FeatureSchema.transform.


def load(csv_path, label, schema_path):
    """Features (n x d float64, mapped through the schema when one is given), labels and the class count."""
    with open(csv_path) as handle:
        header = [name.strip() for name in handle.readline().strip().split(",")]
    if label not in header:
        sys.exit(f"{csv_path}: no column named {label!r} (columns: {', '.join(header)})")
    table = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2)
    column = header.index(label)
    names = [name for name in header if name != label]
    features = np.delete(table, column, axis=1).astype(np.float64)
    labels = table[:, column].astype(np.int64)
    classes = int(labels.max()) + 1
    if schema_path:
        with open(schema_path) as handle:
            schema = json.load(handle)
        classes = int(schema.get("classes", classes))
        for index, name in enumerate(names):
            entry = schema["features"][name]
            bounds, scale = (
                (entry, "linear") if isinstance(entry, list) else (entry["bounds"], entry.get("scale", "linear"))
            )
            low, high = float(bounds[0]), float(bounds[1])
            unit = (np.clip(features[:, index], low, high) - low) / (high - low)
            if scale == "log":
                unit = (np.log(0.1 + unit) - np.log(0.1)) / (np.log(1.1) - np.log(0.1))
            features[:, index] = 2 * unit - 1
    return np.ascontiguousarray(features), labels, classes


def split(count, seed):
    """(train indices, test indices): 20 % of the rows (rounded) held out, as Dataset.split(testFraction: 0.2)."""
    order = np.random.default_rng([seed, 0]).permutation(count)
    test = int(round(count * 0.2))
    return order[test:], order[:test]


def share(train_count, clients, client, partition, seed):
    """The positions (in the training part) of `client`'s rows."""
    if partition == "iid":
        if clients > train_count:
            raise ValueError(f"cannot split {train_count} examples among {clients} clients (use sample:K)")
        order = np.random.default_rng([seed, 1]).permutation(train_count)
        return order[client::clients]
    if partition.startswith("sample:"):
        k = int(partition.split(":", 1)[1])
        if not 0 < k <= train_count:
            raise ValueError(f"sample:{k} needs 1..{train_count} rows per client")
        return np.random.default_rng([seed, 2, client]).choice(train_count, size=k, replace=False)
    raise ValueError(f"unknown partition {partition!r} (iid or sample:K)")


# ---------------------------------------------------------------------------------------------------------------------
# Models: flat float64 parameter vectors in Cloister's layout.


def resolve_kind(kind, classes):
    if kind == "auto":
        return "logistic" if classes == 2 else "softmax"
    if kind == "logistic" and classes != 2:
        raise ValueError(f"logistic regression needs labels 0 and 1; these have {classes} classes (use softmax)")
    return kind


def initial_parameters(kind, d, classes, hidden, seed):
    if kind == "logistic":
        return np.zeros(d + 1)
    if kind == "softmax":
        return np.zeros(classes * (d + 1))
    rng = np.random.default_rng([seed, 3])

    def glorot(rows, inputs):
        limit = np.sqrt(6 / (inputs + rows))
        layer = np.zeros((rows, inputs + 1))
        layer[:, :inputs] = rng.uniform(-limit, limit, size=(rows, inputs))
        return layer.ravel()

    return np.concatenate([glorot(hidden, d), glorot(classes, hidden)])


def softmax(logits):
    logits = logits - logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def forward(kind, theta, x, d, classes, hidden):
    """Class probabilities (n x K; for logistic, P(y = 1) as n x 1) and the hidden activations (mlp)."""
    if kind == "logistic":
        z = x @ theta[:d] + theta[d]
        return (1 / (1 + np.exp(-z)))[:, None], None
    if kind == "softmax":
        w = theta.reshape(classes, d + 1)
        return softmax(x @ w[:, :d].T + w[:, d]), None
    v = theta[: hidden * (d + 1)].reshape(hidden, d + 1)
    w = theta[hidden * (d + 1) :].reshape(classes, hidden + 1)
    h = np.tanh(x @ v[:, :d].T + v[:, d])
    return softmax(h @ w[:, :hidden].T + w[:, hidden]), h


def gradient_sum(kind, theta, x, y, d, classes, hidden):
    """The sum over the rows of the cross-entropy's gradient (Model.addGradient without clipping)."""
    p, h = forward(kind, theta, x, d, classes, hidden)
    if kind == "logistic":
        r = p[:, 0] - y
        return np.concatenate([x.T @ r, [r.sum()]])
    p[np.arange(len(y)), y] -= 1
    if kind == "softmax":
        return np.hstack([p.T @ x, p.sum(axis=0)[:, None]]).ravel()
    w = theta[hidden * (d + 1) :].reshape(classes, hidden + 1)
    back = (p @ w[:, :hidden]) * (1 - h * h)
    outer = np.hstack([p.T @ h, p.sum(axis=0)[:, None]])
    inner = np.hstack([back.T @ x, back.sum(axis=0)[:, None]])
    return np.concatenate([inner.ravel(), outer.ravel()])


def accuracy(kind, theta, x, y, d, classes, hidden):
    if len(y) == 0:
        return 0.0
    p, _ = forward(kind, theta, x, d, classes, hidden)
    predicted = (p[:, 0] > 0.5).astype(np.int64) if kind == "logistic" else p.argmax(axis=1)
    return float((predicted == y).mean())


def local_training(kind, theta, x, y, d, classes, hidden, epochs, batch, lr, rng):
    """LocalTraining.train: `epochs` passes of shuffled minibatch SGD, the gradient averaged over each batch."""
    theta = theta.copy()
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            theta -= lr / len(rows) * gradient_sum(kind, theta, x[rows], y[rows], d, classes, hidden)
    return theta


# ---------------------------------------------------------------------------------------------------------------------
# The federation's data, loaded once per process (the driver and each Ray actor).

_STATE = {}


def state():
    if not _STATE:
        config = json.loads(os.environ[CONFIG_VARIABLE])
        x, y, classes = load(config["data"], config["label"], config["schema"])
        train, test = split(len(y), config["seed"])
        _STATE.update(
            config=config, x=x, y=y, classes=classes, train=train, test=test,
            kind=resolve_kind(config["model"], classes), d=x.shape[1])
    return _STATE


def build_apps():
    from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import DifferentialPrivacyServerSideFixedClipping, FedAvg

    client_app = ClientApp()

    @client_app.train()
    def train(message: Message, context: Context) -> Message:
        s = state()
        config = s["config"]
        client = int(context.node_config["partition-id"])
        rows = s["train"][share(len(s["train"]), config["clients"], client, config["partition"], config["seed"])]
        x, y = s["x"][rows], s["y"][rows]
        theta = message.content["arrays"].to_numpy_ndarrays()[0].astype(np.float64)
        server_round = int(message.content["config"]["server-round"])
        rng = np.random.default_rng([config["seed"], 4, server_round, client])
        trained = local_training(
            s["kind"], theta, x, y, s["d"], s["classes"], config["hidden_units"], config["local_epochs"],
            config["batch_size"], config["lr"], rng)
        content = RecordDict({
            "arrays": ArrayRecord([trained.astype(np.float32)]),
            "metrics": MetricRecord({"num-examples": len(y)}),
        })
        return Message(content=content, reply_to=message)

    server_app = ServerApp()
    timings = {}
    history = []

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        s = state()
        config = s["config"]
        n = config["clients"]
        cohort = config["clients_per_round"] or n
        strategy = FedAvg(
            fraction_train=cohort / n, fraction_evaluate=0.0, min_train_nodes=cohort, min_evaluate_nodes=0,
            min_available_nodes=n)
        if config["dp_noise_multiplier"] is not None:
            strategy = DifferentialPrivacyServerSideFixedClipping(
                strategy, config["dp_noise_multiplier"], config["clip"], cohort)
        x, y = s["x"][s["test"]], s["y"][s["test"]]

        def evaluate(server_round: int, arrays: ArrayRecord) -> MetricRecord:
            theta = arrays.to_numpy_ndarrays()[0].astype(np.float64)
            score = accuracy(s["kind"], theta, x, y, s["d"], s["classes"], config["hidden_units"])
            now = time.time()
            timings.setdefault("first", now)
            timings["last"] = now
            history.append((server_round, score, now))
            return MetricRecord({"accuracy": score})

        theta = initial_parameters(s["kind"], s["d"], s["classes"], config["hidden_units"], config["seed"])
        strategy.start(
            grid=grid, initial_arrays=ArrayRecord([theta.astype(np.float32)]), num_rounds=config["rounds"],
            timeout=config["round_timeout"], train_config=ConfigRecord({}), evaluate_fn=evaluate)

    return server_app, client_app, timings, history


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--partition", default="iid")
    parser.add_argument("--model", default="auto", choices=["auto", "logistic", "softmax", "mlp"])
    parser.add_argument("--hidden-units", type=int, default=32)
    parser.add_argument("--local-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--clients-per-round", type=int)
    parser.add_argument("--dp-noise-multiplier", type=float)
    parser.add_argument("--clip", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--round-timeout", type=float, default=3600)
    parser.add_argument("--cpus-per-client", type=float, default=1.0, help="Ray resources per ClientApp actor")
    parser.add_argument("--metrics", help="per-round CSV: round, accuracy, seconds")
    parser.add_argument("--verbose", action="store_true", help="keep Flower's INFO log")
    args = parser.parse_args()
    if args.clients <= 0 or args.rounds <= 0:
        parser.error("--clients and --rounds must be positive")
    if args.clients_per_round is not None and not 0 < args.clients_per_round <= args.clients:
        parser.error(f"--clients-per-round must be in 1..{args.clients}")
    if (args.dp_noise_multiplier is None) != (args.clip is None):
        parser.error("--dp-noise-multiplier and --clip go together")

    config = {key: getattr(args, key) for key in (
        "data", "label", "schema", "clients", "rounds", "partition", "model", "hidden_units", "local_epochs",
        "batch_size", "lr", "clients_per_round", "dp_noise_multiplier", "clip", "seed", "round_timeout")}
    for key in ("data", "schema"):
        if config[key]:
            config[key] = os.path.abspath(config[key])
    # The Ray workers inherit the driver's environment: every process reads the same configuration.
    os.environ[CONFIG_VARIABLE] = json.dumps(config)
    s = state()
    try:
        # Fail here, not inside an actor, on a partition that cannot be dealt.
        share(len(s["train"]), args.clients, 0, args.partition, args.seed)
        resolve_kind(args.model, s["classes"])
    except ValueError as error:
        parser.error(str(error))

    from flwr.simulation import run_simulation

    if not args.verbose:
        logging.getLogger("flwr").setLevel(logging.WARNING)  # after flwr's import, which sets DEBUG

    server_app, client_app, timings, history = build_apps()
    simulation_start = time.time()
    run_simulation(
        server_app=server_app, client_app=client_app, num_supernodes=args.clients,
        backend_config={"client_resources": {"num_cpus": args.cpus_per_client, "num_gpus": 0.0},
                        "init_args": {"logging_level": "ERROR", "log_to_driver": args.verbose}},
        verbose_logging=args.verbose)
    if len(history) != args.rounds + 1:
        sys.exit(f"the simulation evaluated {len(history)} models, expected {args.rounds + 1} (see --verbose)")
    end = timings["last"]
    seconds = end - simulation_start
    if args.metrics:
        with open(args.metrics, "w") as handle:
            handle.write("round,accuracy,seconds\n")
            for server_round, score, at in history:
                handle.write(f"{server_round},{score},{at - simulation_start}\n")
    print(json.dumps({
        "engine": "flwr.simulation.run_simulation (ray)",
        "clients": args.clients, "rounds": args.rounds, "accuracy": history[-1][1],
        "test_examples": len(s["test"]), "seconds": seconds, "rounds_per_second": args.rounds / seconds,
        "total_seconds": end - PROCESS_START, "rounds_seconds": end - timings["first"],
    }, sort_keys=True))


if __name__ == "__main__":
    main()
