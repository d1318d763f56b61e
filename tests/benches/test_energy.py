"""Tests of the NPU energy estimate (benches.labelers.energy)."""

import os

import pytest

from benches.labelers import energy
from benches.labelers.vela import parse_summary_csv

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
# A real Vela 5.2 summary (ethos-u55-128, default system config and memory mode) of a tiny
# INT8 CNN: one 3x3 conv (8 filters) on 16x16x3, global average pool, dense 10.
SUMMARY = os.path.join(DATA, "vela_summary_small.csv")


def test_marked_as_estimate():
    assert energy.ENERGY_IS_ESTIMATE is True
    assert "horowitz" in energy.ENERGY_MODEL_ID.lower()
    for row in energy.energy_constants_table():
        assert row["value"] >= 0 and row["unit"] and len(row["source"]) > 20
    assert "Horowitz" in energy.ENERGY_CONSTANTS["mac_int8_pj"]["source"]
    assert "ASSUMPTION" in energy.ENERGY_CONSTANTS["off_chip_flash_pj_per_byte"]["source"]


def test_constants_follow_the_table():
    c = {k: v["value"] for k, v in energy.ENERGY_CONSTANTS.items()}
    assert c["mac_int8_pj"] == pytest.approx(0.23)  # 0.2 pJ mult + 0.03 pJ add
    assert c["sram_pj_per_byte"] == pytest.approx(1.25)  # 5 pJ per 32-bit read
    assert c["dram_pj_per_byte"] == pytest.approx(243.75)  # 1.95 nJ per 64-bit access
    assert c["off_chip_flash_pj_per_byte"] == pytest.approx(3.0 * 0.020 / 54e6 * 1e12)
    assert c["static_power_mw"] == 0.0


def test_recorded_row_matches_hand_formula():
    row = parse_summary_csv(SUMMARY)
    assert row["nn_macs"] == 57424 and row["sram_total_bytes"] == 16676
    assert row["dram_total_bytes"] == 0 and row["off_chip_flash_total_bytes"] == 1296
    flash = 3.0 * 0.020 / 54e6 * 1e12
    by_hand_pj = 57424 * 0.23 + 16676 * 1.25 + 0 * 243.75 + 0 * flash + 1296 * flash
    assert energy.estimate_energy_mj(row) == pytest.approx(by_hand_pj * 1e-9, rel=1e-12)
    parts = energy.estimate_energy_breakdown_pj(row)
    assert parts["mac"] == pytest.approx(57424 * 0.23)
    assert parts["off_chip_flash"] == pytest.approx(1296 * flash)
    assert parts["static"] == 0.0


def test_static_power_term():
    row = parse_summary_csv(SUMMARY)
    base = energy.estimate_energy_mj(row)
    # 10 mW for 13.548 us = 1.3548e-4 mJ
    assert energy.estimate_energy_mj(row, static_power_mw=10.0) - base == pytest.approx(1.3548e-4)


def test_monotone_in_traffic_and_macs():
    row = {"nn_macs": 1000, "sram_total_bytes": 1000, "dram_total_bytes": 0,
           "off_chip_flash_total_bytes": 0, "inference_time": 1e-5}
    e0 = energy.estimate_energy_mj(row)
    for key in ("nn_macs", "sram_total_bytes", "dram_total_bytes", "off_chip_flash_total_bytes"):
        bigger = dict(row, **{key: row[key] + 1000})
        assert energy.estimate_energy_mj(bigger) > e0
    # DRAM costs far more per byte than SRAM
    assert energy.estimate_energy_mj(dict(row, dram_total_bytes=1000)) > \
        energy.estimate_energy_mj(dict(row, sram_total_bytes=2000))
    with pytest.raises(KeyError):
        energy.estimate_energy_mj({"sram_total_bytes": 1})
