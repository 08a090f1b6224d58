"""The discrete Gaussian N_Z(0, A/B) sampled from blocks, as Cloister's `DiscreteGaussian` samples it, written
independently in Python's unbounded integers and its `decimal` module, drawing the same random words as Cloister's
`KeyedRandomStream` (the AES-256-CTR keystream of AES-256-GCM over zero blocks, nonce = stream (8 bytes, big-endian) ||
block (4 bytes), 4 KiB a block, read as little-endian 64-bit words) and consuming them by the same rules:

- the magnitudes are cut into blocks of w = 2^s integers, s the largest with (16 * 2^s)^2 * B <= A;
- per try, a word U picks block j, the first with U / 2^64 < F_j, where F_j is the blocks' cumulative mass
  sum_{i <= j} exp(-(i w)^2 B / 2A) over its total, here computed in 120-digit decimal arithmetic (a word within
  10^-90 of a threshold, which the 2,000 known answers never meet, is refused rather than guessed);
- a second word gives the offset J (its low s bits) and the sign (its top bit); a negative zero is drawn again;
- the magnitude jw + J is kept by Canonne, Kamath and Steinke's Bernoulli(exp(-g)) for g = (2 jw J + J^2) B / 2A
  ("The Discrete Gaussian for Differential Privacy", NeurIPS 2020, Algorithm 1), each Bernoulli(n/d) comparing a word
  u with floor(n 2^64 / d), and only when they are equal, random bits, lowest first, of further words with the
  remainder's binary digits (a sample starts on a fresh word for these bits, and its tries share them); no draw for a
  Bernoulli of probability 0 or 1.

The known-answer test of `DiscreteGaussian` compares the two sample for sample.

  sample --key HEX --stream N --numerator A --denominator B --count K
      prints K samples of N_Z(0, A/B), one a line.
"""
import argparse
import decimal
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class Words:
    def __init__(self, key: bytes, stream: int):
        self.aead, self.stream, self.block, self.buffer = AESGCM(key), stream, 0, []

    def next(self) -> int:
        if not self.buffer:
            nonce = self.stream.to_bytes(8, "big") + self.block.to_bytes(4, "big")
            keystream = self.aead.encrypt(nonce, bytes(4096), None)[:4096]
            self.buffer = [int.from_bytes(keystream[i : i + 8], "little") for i in range(0, 4096, 8)][::-1]
            self.block += 1
        return self.buffer.pop()


class Sampler:
    def __init__(self, words: Words, a: int, b: int):
        self.words, self.a, self.b = words, a, b
        self.shift = 0
        while (16 << (self.shift + 1)) ** 2 * b <= a:
            self.shift += 1
        w = 1 << self.shift
        context = decimal.Context(prec=120)
        masses, j = [], 0
        while True:
            mass = context.exp(context.divide(decimal.Decimal(-((j * w) ** 2) * b), decimal.Decimal(2 * a)))
            masses.append(mass)
            if mass < decimal.Decimal(10) ** -110:
                break
            j += 1
        total = decimal.Decimal(0)
        for mass in masses:
            total = context.add(total, mass)
        self.thresholds, running = [], decimal.Decimal(0)
        for mass in masses:
            running = context.add(running, mass)
            self.thresholds.append(context.multiply(context.divide(running, total), decimal.Decimal(2**64)))
        self.word, self.remaining = 0, 0

    def bit(self) -> int:
        """The words' bits, lowest first; a sample starts on a fresh word."""
        if self.remaining == 0:
            self.word, self.remaining = self.words.next(), 64
        bit = self.word & 1
        self.word >>= 1
        self.remaining -= 1
        return bit

    def bernoulli(self, n: int, d: int) -> bool:
        """U < n/d for U uniform in [0, 1): U's first 64 bits, a word, against floor(n 2^64 / d); on a tie, U's further
        random bits against the remainder's binary digits."""
        if n == 0:
            return False
        if n >= d:
            return True
        threshold, remainder = divmod(n << 64, d)
        word = self.words.next()
        if word != threshold:
            return word < threshold
        while True:
            remainder *= 2
            digit = 1 if remainder >= d else 0
            remainder -= digit * d
            if self.bit() != digit:
                return digit == 1

    def bernoulli_exp_fraction(self, n: int, d: int) -> bool:
        """Algorithm 1 for gamma = n/d in [0, 1]."""
        k = 1
        while self.bernoulli(n, d) and self.bernoulli(1, k):
            k += 1
        return k % 2 == 1

    def bernoulli_exp(self, n: int, d: int) -> bool:
        """Algorithm 1 for gamma = n/d >= 0, each Bernoulli(exp(-1)) as two of exp(-1/2)."""
        for _ in range(n // d):
            if not (self.bernoulli_exp_fraction(1, 2) and self.bernoulli_exp_fraction(1, 2)):
                return False
        return self.bernoulli_exp_fraction(n % d, d)

    def block(self, u: int) -> int:
        """The first block j with u / 2^64 < F_j, for a word u decided by its 64 bits."""
        margin = decimal.Decimal(10) ** -90 * 2**64
        for j, threshold in enumerate(self.thresholds):
            if u + 1 <= threshold - margin:
                return j
            if u < threshold + margin:
                raise SystemExit(f"word {u} is within 1e-90 of block {j}'s threshold: not decided at 64 bits")
        raise SystemExit(f"word {u} is past every block computed")

    def next(self) -> int:
        a, b, shift = self.a, self.b, self.shift
        self.word, self.remaining = 0, 0
        while True:
            j = self.block(self.words.next())
            placement = self.words.next()
            offset = placement & ((1 << shift) - 1)
            negative = placement >> 63 == 1
            start = j << shift
            magnitude = start + offset
            if negative and magnitude == 0:
                continue
            if self.bernoulli_exp((2 * start * offset + offset * offset) * b, 2 * a):
                return -magnitude if negative else magnitude


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("sample")
    sample.add_argument("--key", required=True)
    sample.add_argument("--stream", type=int, required=True)
    sample.add_argument("--numerator", type=int, required=True)
    sample.add_argument("--denominator", type=int, required=True)
    sample.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    sampler = Sampler(Words(bytes.fromhex(args.key), args.stream), args.numerator, args.denominator)
    print("\n".join(str(sampler.next()) for _ in range(args.count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
