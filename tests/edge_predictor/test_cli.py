"""``edge-perf inspect``: JSON contract and one-line errors with exit code 2."""

import json
import os

import pytest
from conftest import EXPECTED, fixture_path

from edge_predictor.cli import main


def test_inspect_json_contract(capsys):
    assert main(["inspect", fixture_path("conv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["operators"] == EXPECTED["conv"]["op_count"]
    assert out["op_counts"]["CONV_2D"] == 3
    assert out["macs"] == sum(sum(v) for v in EXPECTED["conv"]["macs"].values())
    assert isinstance(out["params"], int) and out["params"] > 0


def test_inspect_table(capsys):
    assert main(["inspect", fixture_path("attention")]) == 0
    assert "BATCH_MATMUL" in capsys.readouterr().out


def _bad_inputs(tmp_path):
    good = open(fixture_path("conv"), "rb").read()
    files = {
        "missing": str(tmp_path / "nope.tflite"),
        "directory": str(tmp_path),
    }
    for name, content in {
        "empty": b"",
        "text": b"this is not a model\n" * 10,
        "wrong_id": good[:4] + b"XXXX" + good[8:],
        "truncated": good[: len(good) // 2],
        "tiny": good[:6],
    }.items():
        p = tmp_path / (name + ".tflite")
        p.write_bytes(content)
        files[name] = str(p)
    return files


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "text", "wrong_id",
                                  "truncated", "tiny"])
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    path = _bad_inputs(tmp_path)[case]
    assert main(["inspect", path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert path in err[0] and "Traceback" not in err[0]


def test_indices_past_tables_exit_2(tmp_path, capsys):
    from flatbuild import build_model

    p = tmp_path / "bad_index.tflite"
    p.write_bytes(build_model([(0, None)], bad_input=42))
    assert main(["inspect", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tensor 42" in err[0] and os.fspath(p) in err[0]
