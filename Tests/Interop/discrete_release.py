"""Independent checks of how Cloister accounts for its discrete Gaussian releases (`DiscreteGaussianMechanism`).

  smoothing
      checks the lemma the accounting rests on, by quadrature (scipy, relative error 1e-13): drawing N_Z(c, s^2) at a centre
      c ~ N(v, s1^2) gives each integer y a probability within [(1 - e_sigma)/(1 + e_s), (1 + e_sigma)/(1 - e_s)] times
      N_Z(v, s1^2 + s^2)(y), where e_t = 2 sum_{m>=1} exp(-2 pi^2 t^2 m^2). Prints one JSON object a line per
      (s, s1): the bound and the extreme ratios seen over v in {0, 2}, y in -4..6.
  epsilons
      reads JSON [[variance, sensitivity, sampling_rate, steps, delta], ...] on standard input and prints, a line each,
      JSON [optimistic, pessimistic]: the epsilon of `steps` Poisson-subsampled releases of a one-dimensional integer
      query of that sensitivity with N_Z(0, variance) noise, by Google's dp-accounting (its privacy loss distribution
      built from the discrete Gaussian's exact probability mass, `from_discrete_gaussian_mechanism`), with the loss
      rounded down and up on a grid of 1e-5. The true epsilon lies between the two.
"""
import json
import math
import sys


def theta(s, c):
    """sum_k exp(-(k - c)^2 / 2s^2) over the integers within 20s + 10 of c (the rest is below 1e-80)."""
    middle, width = math.floor(c), int(20 * s) + 10
    return math.fsum(math.exp(-((k - c) ** 2) / (2 * s * s)) for k in range(middle - width, middle + width + 1))


def excess(t):
    return 2 * math.fsum(math.exp(-2 * math.pi**2 * t * t * m * m) for m in range(1, 40))


def smoothing():
    from scipy.integrate import quad

    for s in (0.5, 0.7, 1.0):
        for s1 in (1.0, 3.0):
            sigma = math.sqrt(s1 * s1 + s * s)
            low = (1 - excess(sigma)) / (1 + excess(s))
            high = (1 + excess(sigma)) / (1 - excess(s))
            ratios = []
            for v in (0, 2):
                for y in range(-4, 7):
                    def density(c):
                        gaussian = math.exp(-((c - v) ** 2) / (2 * s1 * s1)) / (math.sqrt(2 * math.pi) * s1)
                        return gaussian * math.exp(-((y - c) ** 2) / (2 * s * s)) / theta(s, c)

                    drawn, _ = quad(density, v - 12 * s1, v + 12 * s1, epsabs=0, epsrel=1e-13, limit=500)
                    exact = math.exp(-((y - v) ** 2) / (2 * sigma**2)) / theta(sigma, v)
                    ratios.append(drawn / exact)
            print(json.dumps({"s": s, "s1": s1, "low": low, "high": high, "seen_low": min(ratios),
                              "seen_high": max(ratios), "within": low <= min(ratios) and max(ratios) <= high}))


def epsilons():
    from dp_accounting.pld import privacy_loss_distribution as pld

    for variance, sensitivity, rate, steps, delta in json.load(sys.stdin):
        bounds = []
        for pessimistic in (False, True):
            loss = pld.from_discrete_gaussian_mechanism(
                variance**0.5, sensitivity=int(sensitivity), sampling_prob=rate,
                value_discretization_interval=1e-5, pessimistic_estimate=pessimistic)
            bounds.append(loss.self_compose(steps).get_epsilon_for_delta(delta))
        print(json.dumps(bounds))


def main() -> int:
    commands = {"smoothing": smoothing, "epsilons": epsilons}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 64
    commands[sys.argv[1]]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
