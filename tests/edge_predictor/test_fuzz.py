"""Mutation fuzzing: corrupted fixtures either read (and featurize) or raise ModelFormatError."""

import random

import pytest

from conftest import EXPECTED, fixture_path

from edge_predictor.errors import ModelFormatError
from edge_predictor.featurize import featurize
from edge_predictor.summary import summarize
from edge_predictor.tflite_reader import read_model

pytestmark = pytest.mark.usefixtures("both_reader_paths")

VARIANTS_PER_FIXTURE = 200  # x 6 fixtures = 1,200 variants


def _mutants(data: bytes, rng: random.Random, others):
    for i in range(VARIANTS_PER_FIXTURE):
        kind = i % 4
        b = bytearray(data)
        if kind == 0:  # bit flips
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(b))
                b[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:  # truncation
            b = b[: rng.randrange(8, len(b))]
        elif kind == 2:  # splice a chunk of another model in
            other = rng.choice(others)
            n = rng.randint(4, 256)
            src, dst = rng.randrange(len(other) - n), rng.randrange(8, len(b) - n)
            b[dst:dst + n] = other[src:src + n]
        else:  # overwrite a 32-bit word with an extreme value
            pos = rng.randrange(8, len(b) - 4) & ~3
            b[pos:pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\xff\xff\xff\x7f",
                                         b"\x00\x00\x00\x80", b"\x00\x00\x00\x00"])
        yield bytes(b)


def test_corrupted_models_raise_only_model_format_error():
    rng = random.Random(1234)
    models = {n: open(fixture_path(n), "rb").read() for n in sorted(EXPECTED)}
    total = readable = 0
    for name, data in models.items():
        for variant in _mutants(data, rng, list(models.values())):
            total += 1
            try:
                graph = read_model(variant, name=name + "-mutant")
            except ModelFormatError as err:
                assert str(err).startswith(name + "-mutant: ")
                continue
            readable += 1
            featurize(graph)
            summarize(graph)
    assert total >= 1000
    assert 0 < readable < total  # both paths were exercised
