"""Documents for TOMLDifferentialTests, each with what Python's tomllib (the standard library's TOML 1.0 reader) makes
of it: seeds (the files given: a document of every TOML construct, a policy, the manifests), edge cases named by the TOML 1.0
specification and toml-test's categories, and mutations of the seeds (characters TOML gives meaning to inserted,
replaced or deleted; lines repeated or shuffled), all from a fixed random seed.

Usage: toml_differential.py COUNT SEED [FILE...]   prints a JSON array of {"doc", "error"} or {"doc", "value"},
where a value is tagged as the Swift test tags its own: {"s": text}, {"i": decimal}, {"f": IEEE bits in hex, or
"nan"}, {"b": bool}, {"dt": isoformat}, a list, {"t": {key: value}}; documents whose integers exceed 64 bits (which
TOML lets a reader refuse, and Cloister does) are left out.
"""
import datetime
import json
import math
import random
import struct
import sys
import tomllib

CASES = [
 'a = 1\na = 2', '[a]\n[a]', 'a.b = 1\n[a]', 'a.b = 1\n[a.b]', '[a.b]\n[a]\nb = 1', '[a]\nb.c = 1\n[a.b.d]\ne=1',
 'a = {b = 1}\n[a]', 'a = {b = 1}\na.c = 2', 'a = [1]\n[[a]]', '[[a]]\n[a]', '[a]\n[[a]]', '[[a]]\n[[a.b]]\n[a.b.c]\n[[a]]',
 'a = { b = { c = 1 }, b.d = 2 }', 'a = {b.c = 1, b.d = 2}', 'a = {b = 1,}', 'a = {\n}', 'a = {}', 'a = {b=1, b=2}',
 'a = """\n\\\n   \n  x"""', 'a = """a\\ b"""', "a = '''x''''", "a = '''x'''''", "a = '''x''''''", 'a = """x""""', 'a = """x"""""',
 'a = "\\x41"', 'a = "\\u00"', 'a = "\\uD800"', 'a = "\\U00110000"', 'a = "\\e"', 'a = "\t"', 'a = "\x01"', '# \x7f', 'a = 1 # \x00x',
 'a = 0x', 'a = 0xG', 'a = 0x_1', 'a = 0x1_', 'a = 1__2', 'a = 01', 'a = +0', 'a = -0', 'a = 0.0', 'a = 00.0', 'a = .5', 'a = 5.', 'a = 1e',
 'a = 1e+', 'a = 1.5e-1_0', 'a = 9223372036854775807', 'a = -9223372036854775808', 'a = 1e400', 'a = -inf', 'a = +nan', 'a = inf_',
 'a = 1979-02-29', 'a = 1980-02-29', 'a = 1979-13-01', 'a = 1979-05-27T24:00:00', 'a = 1979-05-27T23:59:60', 'a = 1979-05-27T07:32',
 'a = 07:32', 'a = 07:32:00.', 'a = 1979-05-27T07:32:00+25:00', 'a = 1979-05-27 07:32:00', 'a = 1979-05-27t07:32:00z', 'a = 0000-01-01',
 'a = 1979-05-27  07:32:00', 'a = 1979-05-27T07:32:00.1234567', 'a = true1', 'a = tru', 'a = TRUE', '= 1', 'a =', 'a', '"a" = 1',
 '"""a""" = 1', "'a' = 1", 'a b = 1', 'a.\n b = 1', '[a\n]', '[ a ]', '[[ a ]]', '[[a] ]', '[ [a]]', '[]', '[a.]', '[.a]', '[a..b]',
 'a = [1,,2]', 'a = [,]', 'a = [1 2]', 'a = [\n1,\n# c\n2,\n]', 'a = [1, "a", {b = 1}, [2]]', 'a = 1\r\nb = 2', 'a = 1\rb = 2',
 'a = """\r\nx"""', 'a = "x\r"', '\ufeffa = 1', 'é = 1', 'a = "é"', 'a = 1 b = 2', 'a = 1 # c\nb = 2', '[a] # c', '[a] x',
 'a.b.c = 1\na.b.d = 2\n[a.e]\n', '[a.b.c]\n[a.b]\n[a.b.c]', 'a.b = 1\nb.a = 2\n[c]\nd.e = 1\n[c.d.f]', '[x]\ny.z = 1\n[x.y]',
 '[[a.b]]\n[a]\nc = 1', '[a]\n[[a.b]]\n[a.b.c]\nd = 1\n[[a.b]]', 'a = [{b = 1}]\n[a.c]', 'a = [{b = 1}]\n[[a]]',
 "a = '''\n'''", 'a = """\n"""', 'a = """"""', "a = ''''''", 'a = """ " """', "a = ''' ' '''", 'a = "a\\\nb"',
 '0 = 1\n1.2 = 3', '-_- = 1', 'a-b = 1', '1979-05-27 = 1', 'true = 1', 'inf = 1', 'nan = 2', 'a = 1.0e+2',
]

SIGNIFICANT = list("[]{}=.,\"'#\n \t\\_-+:eE0123456789abcdefxobTZtrunlsinf") + [
    '"""', "'''", "\\u", "\\U", "inf", "nan", "1979-05-27", "07:32:00", "\r\n", "\r", "é",
]


def tagged(value):
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise OverflowError
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": "nan" if math.isnan(value) else format(struct.unpack(">Q", struct.pack(">d", value))[0], "x")}
    if isinstance(value, str):
        return {"s": value}
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return {"dt": value.isoformat()}
    if isinstance(value, list):
        return [tagged(item) for item in value]
    return {"t": {key: tagged(item) for key, item in value.items()}}


def mutate(doc, rng):
    for _ in range(rng.randint(1, 3)):
        operation = rng.randrange(5)
        position = rng.randrange(len(doc) + 1)
        if operation == 0 and doc:
            doc = doc[:position] + doc[position + 1 :]
        elif operation == 1:
            doc = doc[:position] + rng.choice(SIGNIFICANT) + doc[position:]
        elif operation == 2 and doc:
            doc = doc[:position] + rng.choice(SIGNIFICANT) + doc[position + 1 :]
        elif operation == 3:
            lines = doc.split("\n")
            lines.insert(rng.randrange(len(lines) + 1), lines[rng.randrange(len(lines))])
            doc = "\n".join(lines)
        else:
            lines = doc.split("\n")
            rng.shuffle(lines)
            doc = "\n".join(lines)
    return doc


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    seeds = [open(path, encoding="utf-8").read() for path in sys.argv[3:]]
    rng = random.Random(seed)
    docs = seeds + CASES
    while len(docs) < count:
        docs.append(mutate(rng.choice(seeds), rng))
    out = []
    for doc in docs:
        try:
            out.append({"doc": doc, "value": tagged(tomllib.loads(doc))})
        except tomllib.TOMLDecodeError as error:
            out.append({"doc": doc, "error": str(error)})
        except (OverflowError, RecursionError):
            pass
    json.dump(out, sys.stdout)


main()
