"""Tests of the analytical host-CPU model's fit (trainer.cpu_cost_fit), on synthetic models."""

import importlib.util

import numpy as np
import pytest

from edge_predictor.cpu_cost import CPU_TERMS, FALLBACK, cost_of
from trainer.cpu_cost_fit import (MIN_MODELS, ModelTerms, coefficient_keys, design_rows,
                                  fit_cpu_table, write_tables)

TRUE = {"CONV_2D": [5.0, 2e-3, 0.0, 0.0, 1e-3], "ADD": [1.0, 0.0, 1e-2, 0.0, 0.0]}


def _models(n, rng, rare=False):
    out = []
    for i in range(n):
        ops = ["CONV_2D", "ADD", "CONV_2D"] + (["GATHER"] if rare and i == 0 else [])
        terms = np.ones((len(ops), len(CPU_TERMS)))
        terms[:, 1:] = rng.uniform(10, 1e4, size=(len(ops), len(CPU_TERMS) - 1))
        us = cost_of(ops, terms, dict(TRUE, **{FALLBACK: [0.0] * 5}))
        out.append(ModelTerms("s", i, "train", ops, terms, float(us.sum()) * 1e-3))
    return out


def test_the_fit_recovers_the_coefficients_of_noiseless_models():
    models = _models(60, np.random.default_rng(0))
    table, counts = fit_cpu_table(models)
    assert counts["CONV_2D"] == 60
    pred = design_rows(models, sorted(table)) @ np.concatenate([table[k] for k in sorted(table)])
    y = np.array([m.latency_ms for m in models]) * 1e3
    assert np.abs(pred / y - 1).max() < 1e-3


def test_rare_operator_types_are_pooled_under_the_fallback():
    models = _models(MIN_MODELS + 5, np.random.default_rng(1), rare=True)
    keys = coefficient_keys(models)
    assert "GATHER" not in keys and FALLBACK in keys and "CONV_2D" in keys


def test_written_tables_import_back(tmp_path):
    path = tmp_path / "table.py"
    write_tables({"cpu-a": TRUE}, {"cpu-a": "synthetic"}, str(path))
    spec = importlib.util.spec_from_file_location("table", str(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.TABLES == {"cpu-a": TRUE} and mod.SOURCES == {"cpu-a": "synthetic"}
    with pytest.raises(KeyError):
        mod.TABLES["cpu-b"]
