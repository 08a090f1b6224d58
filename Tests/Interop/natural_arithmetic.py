"""An independent check of Cloister's arbitrary-precision naturals (`Natural`, the arithmetic under the discrete
Gaussian's exact comparisons) against Python's unbounded integers.

  check
      reads lines of hexadecimal numbers on standard input, each
        a b d k sum product difference saturated less equal floor ceiling left right_floor right_ceiling width
      where difference is a - b when a >= b and b - a otherwise, saturated is max(a - b, 0), less and equal are 0 or 1,
      floor and ceiling are a / d rounded down and up, left is a * 2^k, right_floor and right_ceiling are a / 2^k
      rounded down and up, and width is a's bit length; recomputes every field and prints how many lines agreed, and
      each line that did not with the fields at fault. Exit status 1 if any disagreed.
"""
import sys


def expected(a: int, b: int, d: int, k: int) -> list[int]:
    return [
        a + b,
        a * b,
        abs(a - b),
        max(a - b, 0),
        int(a < b),
        int(a == b),
        a // d,
        -(-a // d),
        a << k,
        a >> k,
        -(-a >> k),
        a.bit_length(),
    ]


NAMES = "sum product difference saturated less equal floor ceiling left right_floor right_ceiling width".split()


def main() -> int:
    if sys.argv[1:] != ["check"]:
        print(__doc__, file=sys.stderr)
        return 2
    lines = sys.stdin.read().split("\n")
    agreed, failures = 0, []
    for number, line in enumerate(filter(None, lines), 1):
        fields = [int(field, 16) for field in line.split()]
        a, b, d, k = fields[:4]
        wrong = [name for name, ours, theirs in zip(NAMES, fields[4:], expected(a, b, d, k)) if ours != theirs]
        if len(fields) != 4 + len(NAMES) or wrong:
            failures.append(f"line {number} (a={a:#x}, b={b:#x}, d={d:#x}, k={k}): {' '.join(wrong) or 'field count'}")
        else:
            agreed += 1
    print(f"{agreed} lines agree")
    for failure in failures[:20]:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
