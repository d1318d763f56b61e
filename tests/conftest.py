"""Shared test fixtures: the committed tiny models and their hand-written expectations."""

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, HERE)  # for tests/flatbuild.py

with open(os.path.join(FIXTURES, "EXPECTED.json")) as _f:
    EXPECTED = {k: v for k, v in json.load(_f).items() if not k.startswith("_")}


def fixture_path(name):
    """Path of ``tests/fixtures/<name>.tflite``."""
    return os.path.join(FIXTURES, name + ".tflite")


@pytest.fixture(params=sorted(EXPECTED))
def fixture_model(request):
    """(name, path, expectations) of every committed fixture model."""
    return request.param, fixture_path(request.param), EXPECTED[request.param]
