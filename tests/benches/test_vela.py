"""Tests of the Vela labeler (benches.labelers.vela)."""

import os

import pytest

from benches.labelers import vela
from edge_predictor.errors import LabelError
from conftest import tiny_int8_model

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

LOG = """Network summary for small
Accelerator configuration               Ethos_U55_128
CPU operators = 2 (33.3%)
NPU operators = 4 (66.7%)
"""


def test_parse_recorded_summary_and_labels():
    row = vela.parse_summary_csv(os.path.join(DATA, "vela_summary_small.csv"))
    assert row["system_config"] == "Ethos_U55_High_End_Embedded"
    assert row["memory_mode"] == "Shared_Sram"
    labels = vela.labels_from_summary(row)
    assert labels["latency_ms"] == pytest.approx(1.3548e-05 * 1000)
    assert labels["sram_kib"] == pytest.approx(5.484375)
    assert labels["energy_mj"] > 0


def test_parse_operator_counts():
    assert vela.parse_operator_counts(LOG) == {"cpu_ops": 2, "npu_ops": 4}
    assert vela.parse_operator_counts("nothing") == {}


@pytest.fixture(scope="module")
def models():
    pytest.importorskip("ethosu.vela")
    return {
        "small": tiny_int8_model(8, 1, 16),
        "wider": tiny_int8_model(32, 1, 16),
        "deeper": tiny_int8_model(32, 4, 16),
        "bigger_input": tiny_int8_model(32, 4, 48),
    }


@pytest.mark.train
def test_labels_grow_with_the_model(models):
    res = {k: vela.label_vela(m) for k, m in models.items()}
    lat = {k: r["labels"]["latency_ms"] for k, r in res.items()}
    macs = {k: r["raw"]["nn_macs"] for k, r in res.items()}
    assert lat["small"] < lat["wider"] < lat["deeper"] < lat["bigger_input"]
    assert macs["small"] < macs["wider"] < macs["deeper"] < macs["bigger_input"]
    assert res["small"]["labels"]["sram_kib"] < res["bigger_input"]["labels"]["sram_kib"]
    assert res["small"]["labels"]["energy_mj"] < res["bigger_input"]["labels"]["energy_mj"]
    r = res["deeper"]
    assert r["target"] == "ethos-u55-128"
    assert r["raw"]["cpu_ops"] == 0 and r["raw"]["npu_ops"] >= 1
    assert r["raw"]["cycles_total"] >= r["raw"]["cycles_npu"] > 0
    assert r["labels"]["latency_ms"] == pytest.approx(r["raw"]["inference_time"] * 1000)
    p = r["provenance"]
    assert p["labeler"] == "vela" and p["labeler_version"].startswith("5.2")
    assert p["accelerator"] == "ethos-u55-128"
    assert p["system_config"] == "Ethos_U55_High_End_Embedded"
    assert p["memory_mode"] == "Shared_Sram"
    assert p["energy_is_estimate"] is True


@pytest.mark.train
def test_deterministic_bytes_or_path_and_quiet(models, tmp_path, capfd):
    path = tmp_path / "cand.tflite"
    path.write_bytes(models["small"])
    a = vela.label_vela(models["small"])
    b = vela.label_vela(str(path))
    assert a["labels"] == b["labels"] and a["raw"] == b["raw"]
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # Vela's fd-level warnings were captured
    print("after")  # fds 1/2 are restored
    os.write(2, b"fd2\n")
    out, err = capfd.readouterr()
    assert out == "after\n" and err == "fd2\n"


@pytest.mark.train
def test_failure_is_one_line_label_error(models):
    with pytest.raises(LabelError) as info:
        vela.label_vela(b"not a tflite model at all")
    msg = str(info.value)
    assert "\n" not in msg and "Vela failed" in msg
    with pytest.raises(LabelError, match="CPU"):
        # a float model keeps ops on the CPU under Vela
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        tf = pytest.importorskip("tensorflow")
        keras = pytest.importorskip("tf_keras")
        inp = keras.Input((8, 8, 3))
        m = keras.Model(inp, keras.layers.Conv2D(4, 3)(inp))
        vela.label_vela(tf.lite.TFLiteConverter.from_keras_model(m).convert(),
                        allow_cpu_ops=False)
