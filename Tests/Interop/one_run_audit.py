"""The one-run audit's lower bound (Steinke, Nasr, Jagielski 2023) by Google DeepMind's jax_privacy, the independent
implementation `OneRunAudit` is checked against.

  bounds
      reads JSON [[canaries, guesses, correct, delta, confidence], ...] on standard input and prints one JSON number
      a line: `jax_privacy.auditing._epsilon_one_run(0, m, r, v, 1 - confidence, delta)` (brentq, xtol 1e-6).

jax-privacy's package imports jax; only its `auditing.py` is loaded here (it needs numpy, scipy and dp-accounting),
so `make venv` installs jax-privacy without its dependencies.
"""
import importlib.util
import json
import sys


def auditing():
    spec = importlib.util.find_spec("jax_privacy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("jax-privacy is not installed (make venv installs it with --no-deps)")
    path = spec.submodule_search_locations[0] + "/auditing.py"
    module_spec = importlib.util.spec_from_file_location("jax_privacy_auditing", path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["jax_privacy_auditing"] = module  # its dataclasses look themselves up here
    module_spec.loader.exec_module(module)
    return module


def main() -> int:
    if sys.argv[1:] != ["bounds"]:
        print(__doc__, file=sys.stderr)
        return 64
    module = auditing()
    for m, r, v, delta, confidence in json.load(sys.stdin):
        print(json.dumps(module._epsilon_one_run(0.0, m, r, v, 1 - confidence, delta)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
