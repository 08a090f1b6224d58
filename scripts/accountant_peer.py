"""The peer of `cloister dp epsilon` (scripts/bench-dpsgd): dp-accounting's RDP and PLD accountants (Google's, the
library a Python user would pick) on Poisson-subsampled Gaussian steps, timed in process, after the imports, as a
library user calls them; PLD at dp-accounting's default discretisation (1e-4).

usage: accountant_peer.py SAMPLING_RATE NOISE_MULTIPLIER STEPS DELTA
prints `rdp EPSILON MILLISECONDS` and `pld EPSILON MILLISECONDS`, each the median of 3 timings.
"""

import statistics
import sys
import time

from dp_accounting import dp_event
from dp_accounting.pld import pld_privacy_accountant
from dp_accounting.rdp import rdp_privacy_accountant


def main():
    rate, sigma, steps, delta = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    event = dp_event.PoissonSampledDpEvent(rate, dp_event.GaussianDpEvent(sigma))
    for name, accountant in (("rdp", rdp_privacy_accountant.RdpAccountant),
                             ("pld", pld_privacy_accountant.PLDAccountant)):
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            epsilon = accountant().compose(event, steps).get_epsilon(delta)
            timings.append((time.perf_counter() - start) * 1e3)
        print(name, epsilon, statistics.median(timings))


if __name__ == "__main__":
    main()
