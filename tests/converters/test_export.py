"""PerfSAGE Keras -> padded TFLite bundle: parity with Keras, bucket invariance, checksums."""

import hashlib
import json
import os

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
pytestmark = pytest.mark.train

tf = pytest.importorskip("tensorflow")
pytest.importorskip("spektral")

from converters import export as E  # noqa: E402
from converters import parity as P  # noqa: E402
from edge_predictor.bundle import META_FILE, load_bundle  # noqa: E402
from edge_predictor.featurize import FEATURE_NAMES  # noqa: E402
from edge_predictor.op_table import CATEGORIES, OP_VOCAB  # noqa: E402

BUCKETS = ((16, 1), (16, 4), (48, 1))


def _tiny(tmp_path=None):
    import tf_keras

    from trainer.model import PerfSAGEConfig, build_perfsage, save_config
    from trainer.train import BOUNDED_FEATURES, BOUNDED_PHASES, COST_FEATURES

    tf_keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    norm = {E.NORM_NAMES: list(FEATURE_NAMES),
            E.NORM_MEAN: rng.normal(size=len(FEATURE_NAMES)).tolist(),
            E.NORM_STD: rng.uniform(0.5, 2.0, len(FEATURE_NAMES)).tolist()}
    cost = [FEATURE_NAMES.index(n) for n in COST_FEATURES]
    bound = [FEATURE_NAMES.index(n) for n in BOUNDED_FEATURES]
    # the bundled architecture: layer norm, additive readout with cost prior and temperature,
    # and SRAM's per-node cost bounded by the node's memory in two phases (peak-gen)
    cfg = PerfSAGEConfig(n_features=len(FEATURE_NAMES), n_categories=len(CATEGORIES),
                         n_ops=len(OP_VOCAB), metrics=["latency_ms", "sram_kib"], hidden=16,
                         gnn_layers=2, dense_layers=2, dense_width=32, layer_norm=True,
                         readout="max+sum", node_head=16, log_mean=[0.3, 4.0],
                         log_std=[1.1, 0.7], typical_nodes=20.0, cost_columns=cost,
                         cost_mean=[norm[E.NORM_MEAN][c] for c in cost],
                         cost_std=[norm[E.NORM_STD][c] for c in cost], soft_readout=True,
                         tau_init=[1.0, 0.05], bounded=[1], bounded_columns=bound,
                         bounded_mean=[norm[E.NORM_MEAN][c] for c in bound],
                         bounded_std=[norm[E.NORM_STD][c] for c in bound],
                         bounded_phases=[[float(n in ph) for n in BOUNDED_FEATURES + ("fixed",)]
                                         for ph in BOUNDED_PHASES])
    model = build_perfsage(cfg)
    for layer in model.layers:  # the zero-initialised parts get values too
        if layer.name in ("head", "cost_op", "cost_cat", "sum_readout"):
            layer.set_weights([rng.normal(scale=0.3, size=w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    targets = {E.TGT_TARGET: "ethos-u55-128", E.TGT_METRICS: [  # trainer.targets.to_json form
        {E.TGT_NAME: "latency_ms", E.TGT_TRANSFORM: "log", E.TGT_MU: 0.3, E.TGT_SIGMA: 1.1,
         E.TGT_UNIT: "ms"},
        {E.TGT_NAME: "sram_kib", E.TGT_TRANSFORM: "log", E.TGT_MU: 4.0, E.TGT_SIGMA: 0.7,
         E.TGT_UNIT: "KiB"}]}
    if tmp_path is None:
        return E.TrainedModel(model, cfg, norm[E.NORM_MEAN], norm[E.NORM_STD],
                              E.metric_specs(targets, cfg.metrics, "ethos-u55-128"),
                              "ethos-u55-128", {"ops_seen": ["CONV_2D"]})
    folder = tmp_path / "trained"
    folder.mkdir()
    save_config(cfg, str(folder / E.CONFIG_FILE))
    model.save_weights(str(folder / E.WEIGHTS_FILE))
    (folder / E.NORMALIZER_FILE).write_text(json.dumps(norm))
    (folder / E.TARGETS_FILE).write_text(json.dumps(targets))
    return str(folder), model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bundle") / "b")
    tm = _tiny()
    meta = E.export_bundle(tm, out, buckets=BUCKETS)
    return tm, out, meta


def test_parity_and_invariance(exported):
    tm, out, _ = exported
    res = P.check_parity(tm, out)
    assert set(res["buckets"]) == {"n{}_b{}".format(n, b) for n, b in BUCKETS}
    assert res["max_rel_diff"] <= 1e-4, res
    assert res["invariance"] <= 1e-4


def test_meta_sha256_and_loadable(exported):
    _, out, meta = exported
    assert sorted(os.listdir(out)) == sorted([META_FILE, E.MODEL_FILE])
    data = open(os.path.join(out, E.MODEL_FILE), "rb").read()
    assert hashlib.sha256(data).hexdigest() == meta["file"]["sha256"]
    on_disk = json.load(open(os.path.join(out, META_FILE)))
    assert on_disk["buckets"] == meta["buckets"]
    bundle = load_bundle(out)
    assert bundle.target == "ethos-u55-128" and bundle.metrics == ["latency_ms", "sram_kib"]
    assert [(b.nodes, b.batch, b.signature) for b in bundle.buckets] == \
        [(n, b, "n{}_b{}".format(n, b)) for n, b in BUCKETS]


def test_weights_stored_once(exported, tmp_path):
    """Three buckets in one file cost about what one bucket alone costs."""
    tm, out, _ = exported
    E.export_bundle(tm, str(tmp_path / "one"), buckets=BUCKETS[:1])
    three = os.path.getsize(os.path.join(out, E.MODEL_FILE))
    one = os.path.getsize(os.path.join(str(tmp_path / "one"), E.MODEL_FILE))
    n_weights = sum(int(np.prod(w.shape)) for w in tm.model.get_weights())
    assert three - one < 2 * n_weights  # well under a second copy of the float32 weights


def test_runtime_matches_keras_on_real_model(exported):
    from conftest import fixture_path

    from edge_predictor import Predictor, featurize, read_model

    tm, out, _ = exported
    g = featurize(read_model(fixture_path("attention")))  # 23 operators -> the 48 bucket
    ref = tm.keras_predict(*P.pad_batch([(g.x, g.categories, g.op_ids, g.edges)], g.n_nodes, 1))
    got = Predictor.load(out).predict(fixture_path("attention"))
    assert [got[m] for m in ("latency_ms", "sram_kib")] == pytest.approx(list(ref[0]), rel=1e-4)


def test_load_trained_folder_round_trip(tmp_path):
    folder, model = _tiny(tmp_path)
    tm = E.load_trained(folder)
    assert tm.target == "ethos-u55-128"
    assert [m["name"] for m in tm.metrics] == ["latency_ms", "sram_kib"]
    for w0, w1 in zip(model.get_weights(), tm.model.get_weights()):
        np.testing.assert_array_equal(w0, w1)
    assert E.main([folder, str(tmp_path / "b"), "--buckets", "16x1,32x2"]) == 0
    assert not os.path.exists(str(tmp_path / "b.new"))
    assert [b.nodes for b in load_bundle(str(tmp_path / "b")).buckets] == [16, 32]


def test_float16_weights(tmp_path):
    tm = _tiny()
    meta = E.export_bundle(tm, str(tmp_path / "f16"), buckets=((16, 1),), float16=True)
    assert meta["precision"] == "float16"
    assert P.check_parity(tm, str(tmp_path / "f16"))["max_rel_diff"] <= 1e-2


def test_parse_buckets():
    assert E.parse_buckets("64x16, 256,1536x1") == [(64, 16), (256, 1), (1536, 1)]


def _tiny_priors():
    """Latency over a host-CPU-like table (picoseconds per MAC: below float16's range in ms)
    and energy over a column prior in pJ (scale 1e-9: flushed to 0 by float16 unless the prior
    is computed in the log domain)."""
    import tf_keras

    from trainer.model import PerfSAGEConfig, build_perfsage

    tf_keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    mean = rng.normal(size=len(FEATURE_NAMES)).tolist()
    std = rng.uniform(0.5, 2.0, len(FEATURE_NAMES)).tolist()
    tcols = [FEATURE_NAMES.index(n) for n in ("macs", "out_elements")]
    ecol = FEATURE_NAMES.index("npu_energy_pj")
    table = [[1e-4, 2.2e-8, 6.8e-7] for _ in OP_VOCAB]  # ms, ms per MAC, ms per element
    cfg = PerfSAGEConfig(n_features=len(FEATURE_NAMES), n_categories=len(CATEGORIES),
                         n_ops=len(OP_VOCAB), metrics=["latency_ms", "energy_mj"], hidden=16,
                         gnn_layers=2, dense_layers=2, dense_width=32, layer_norm=True,
                         readout="max+sum", node_head=16, log_mean=[0.3, -1.0],
                         log_std=[1.1, 1.0], typical_nodes=20.0, soft_readout=True,
                         prior_metrics=[0, 1], prior_columns=[-1, ecol], prior_means=[0.0,
                         mean[ecol]], prior_stds=[1.0, std[ecol]], prior_scales=[1.0, 1e-9],
                         prior_table=table, prior_table_columns=tcols,
                         prior_table_mean=[mean[c] for c in tcols],
                         prior_table_std=[std[c] for c in tcols])
    model = build_perfsage(cfg)
    targets = {E.TGT_TARGET: "ethos-u55-128", E.TGT_METRICS: [
        {E.TGT_NAME: "latency_ms", E.TGT_TRANSFORM: "log", E.TGT_MU: 0.3, E.TGT_SIGMA: 1.1,
         E.TGT_UNIT: "ms"},
        {E.TGT_NAME: "energy_mj", E.TGT_TRANSFORM: "log", E.TGT_MU: -1.0, E.TGT_SIGMA: 1.0,
         E.TGT_UNIT: "mJ"}]}
    return E.TrainedModel(model, cfg, mean, std,
                          E.metric_specs(targets, cfg.metrics, "ethos-u55-128"),
                          "ethos-u55-128", {"ops_seen": ["CONV_2D"]})


def test_float16_keeps_tiny_prior_constants(tmp_path):
    tm = _tiny_priors()
    E.export_bundle(tm, str(tmp_path / "f16"), buckets=((16, 1),), float16=True)
    assert P.check_parity(tm, str(tmp_path / "f16"))["max_rel_diff"] <= 1e-2


def test_failed_parity_leaves_the_existing_bundle(tmp_path):
    folder, _ = _tiny(tmp_path)
    out = tmp_path / "b"
    out.mkdir()
    (out / "meta.json").write_text("the shipped bundle")
    # float16 cannot meet a zero tolerance: the staged bundle must not replace the old one
    assert E.main([folder, str(out), "--buckets", "16x1", "--float16",
                   "--max-rel-diff", "0"]) == 1
    assert (out / "meta.json").read_text() == "the shipped bundle"
    assert (tmp_path / "b.new" / "meta.json").exists()
