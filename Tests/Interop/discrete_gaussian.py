"""Canonne, Kamath and Steinke's exact samplers ("The Discrete Gaussian for Differential Privacy", NeurIPS 2020,
Algorithms 1-3) in Python's unbounded integers, drawing the same random words as Cloister's `KeyedRandomStream` (the
AES-256-CTR keystream of AES-256-GCM over zero blocks, nonce = stream (8 bytes, big-endian) || block (4 bytes), 4 KiB a
block, read as little-endian 64-bit words) and consuming them by the same rules (the Laplace's uniform integer by
Lemire's multiply-and-shift with rejection; a Bernoulli(n/d) trial by comparing the words' bits, lowest first, with
n/d's binary digits, a sample starting on a fresh word; no draw for a Bernoulli of probability 0 or 1). The
known-answer test of `DiscreteGaussian` compares the two sample for sample.

  sample --key HEX --stream N --numerator A --denominator B --count K
      prints K samples of N_Z(0, A/B), one a line.
"""
import argparse
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
        root = 0
        while (root + 1) ** 2 * b <= a:
            root += 1
        self.t = root + 1
        self.word, self.remaining = 0, 0

    def bit(self) -> int:
        """The words' bits, lowest first; a sample starts on a fresh word."""
        if self.remaining == 0:
            self.word, self.remaining = self.words.next(), 64
        bit = self.word & 1
        self.word >>= 1
        self.remaining -= 1
        return bit

    def uniform(self, m: int) -> int:
        """Lemire's multiply-and-shift with rejection, 0 < m < 2^64."""
        product = self.words.next() * m
        if product % 2**64 < m:
            threshold = (2**64 - m) % m
            while product % 2**64 < threshold:
                product = self.words.next() * m
        return product >> 64

    def bernoulli(self, n: int, d: int) -> bool:
        """U < n/d for U uniform in [0, 1): compare U's random bits with n/d's binary digits."""
        if n == 0:
            return False
        if n >= d:
            return True
        remainder = n
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
        """Algorithm 1 for gamma = n/d >= 0."""
        for _ in range(n // d):
            if not self.bernoulli_exp_fraction(1, 1):
                return False
        return self.bernoulli_exp_fraction(n % d, d)

    def discrete_laplace(self) -> int:
        """Algorithm 2 with s = 1: P[Y = y] proportional to exp(-|y|/t)."""
        t = self.t
        while True:
            u = self.uniform(t)
            if not self.bernoulli_exp(u, t):
                continue
            v = 0
            while self.bernoulli_exp(1, 1):
                v += 1
            x = u + t * v
            negative = self.bit() == 1
            if negative and x == 0:
                continue
            return -x if negative else x

    def next(self) -> int:
        """Algorithm 3: accept a discrete Laplace candidate y with probability exp(-(|y| - sigma^2/t)^2 / 2 sigma^2)."""
        a, b, t = self.a, self.b, self.t
        self.word, self.remaining = 0, 0
        while True:
            y = self.discrete_laplace()
            u = abs(y) * b * t - a
            if self.bernoulli_exp(u * u, 2 * a * b * t * t):
                return y


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
