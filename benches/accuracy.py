"""Accuracy bench (issue 4): PerfSAGE against baselines and ablations, the paper's Table 6 shape.

One command runs everything (``--help`` for the options)::

    python -m benches.accuracy [--quick] [--targets T ...] [--epochs N] [--only GLOB ...]
                               [--report-only]

Per labelled target, on the fixed split of :func:`trainer.dataset.split_of`: PerfSAGE specialized
and generalized, the baselines of :mod:`trainer.baselines`, the ablations of the paper's Tables
4-5, a learning curve on nested fractions of the training split, and the zoo (labelled by Vela,
predicted by every generalized model, never trained on). Every result is cached as
``<out>/accuracy_runs/<name>.json`` under a key of its settings and of the exact (space, seed)
list it saw, with a hash of the code behind it: a rerun reuses what is finished (a grown store
changes the keys; changed baseline code reruns them, changed trainer code only marks PerfSAGE and
Eagle results stale unless ``--rerun-stale``). Trained models go to ``--cache`` (default
``.cache/accuracy/``, or ``<out>/cache`` when ``--out`` is given; an interrupted PerfSAGE run
resumes there). Outputs in ``--out`` (default ``benches/results``; ``--quick``:
``.cache/accuracy/quick``): ``accuracy.json``, ``accuracy.md``, ``accuracy_learning_curve.png``.
Featurized graphs are cached by content in the trainer's shared feature cache
(``.cache/features``, ``$EDGE_PERF_FEATURE_CACHE`` moves it).
"""

from __future__ import annotations

import argparse
import datetime
import fnmatch
import hashlib
import json
import os
import platform
import shlex
import sys
import time
import traceback
import warnings
from typing import Any, Callable, Dict, List, Optional

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


from benches import accuracy_report as R  # noqa: E402
from edge_predictor.featurize import FEATURE_SCHEMA_VERSION  # noqa: E402
from trainer import dataset as D  # noqa: E402
from trainer.baselines import write_json  # noqa: E402
from trainer.metrics import score  # noqa: E402
from trainer.targets import default_metrics  # noqa: E402

__all__ = ["main", "Bench", "FRACTIONS", "APPEND_ONLY_SCHEMAS"]

#: Feature schemas whose runs this bench still reports until rerun: from 4 on, schemas only
#: appended columns (schema 8 recomputed schema 7's, so 7 is not among them). The runtime reads
#: only the current schema; this is about showing an older run's result, not loading it.
APPEND_ONLY_SCHEMAS = (4, 5, 6, 8, 9, 10)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benches", "results")
MODELS = os.path.join(REPO, ".cache", "accuracy")
ZOO_DIR = os.path.join(REPO, ".cache", "zoo")
FRACTIONS = (0.1, 0.25, 0.5, 1.0)
MIN_SPLIT = 2  # a space needs this many labelled models in each of train, val and test
QUICK = {"perfsage": dict(hidden=16, gnn_layers=2, dense_layers=2, dense_width=64),
         "eagle": dict(hidden=32, layers=2), "gbr": dict(max_iter=50)}
_PERFSAGE = {"perfsage": {}, "nocfe": {"cfe": False}, "mape": {"loss": "mape"},  # TrainConfig
             "noups": {"upsampling": False}, "maxro": {"readout": "max"},
             "paper": {"readout": "max", "layer_norm": False},
             "peak": {"peak_tau": 0.05, "bounded_peak": True},
             "phased": {"peak_tau": 0.05, "bounded_peak": True, "phased_peak": True},
             "replayed": {"peak_tau": 0.05, "bounded_peak": True, "replayed_peak": True},
             "prior": {"peak_tau": 0.05, "bounded_peak": True, "replayed_peak": True,
                       "npu_prior": True}}
# variant settings that enter the cache key (the older ones are implied by the kind's name, so
# that results cached before this list existed stay valid): add every new variant setting here
_KEYED = ("phased_peak", "replayed_peak", "npu_prior")
# source files behind each kind of result (their hash is kept with it, see Bench.run)
_CODE = {"numpy": ("baselines/__init__.py", "baselines/totals.py", "baselines/kernel_sum.py"),
         "eagle": ("baselines/eagle.py", "batching.py", "losses.py", "targets.py"),
         "perfsage": ("train.py", "infer.py", "batching.py", "model.py", "losses.py",
                      "targets.py"),
         "": ("dataset.py", "../edge_predictor/featurize.py", "../edge_predictor/op_table.py",
              "../edge_predictor/op_features.py", "../edge_predictor/graph.py")}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _sha256(*paths: str) -> Optional[str]:
    h = hashlib.sha256()
    for path in paths:
        if not os.path.exists(path):
            return None
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _older_schema(rec: Dict[str, Any], spec: Dict[str, Any]) -> bool:
    """True when ``rec`` is a finished run of ``spec`` on an older feature schema that only
    lacks appended columns (:data:`APPEND_ONLY_SCHEMAS`): still a valid result of
    the predictor it trained, shown with its schema until it is rerun."""
    old = rec.get("spec") or {}
    schema = old.get("feature_schema")
    return (rec.get("status") == "ok" and isinstance(schema, int) and
            schema in APPEND_ONLY_SCHEMAS and schema < FEATURE_SCHEMA_VERSION and
            dict(old, feature_schema=None) == dict(spec, feature_schema=None))


def _family(kind: str) -> str:
    """``"numpy"``, ``"eagle"``, ``"perfsage"`` (PerfSAGE and its ablations) or ``""`` (zoo)."""
    if kind.startswith(("totals", "kernel-sum")):
        return "numpy"
    return "eagle" if kind.startswith("eagle") else "" if kind.startswith("zoo") else "perfsage"


def models_dir(args: argparse.Namespace) -> str:
    """Where trained models go: ``--cache``; else under ``--out``; else ``.cache/accuracy``."""
    if args.cache:
        return args.cache
    if args.out:
        return os.path.join(args.out, "cache")
    return os.path.join(MODELS, "quick", "models") if args.quick else MODELS


class Bench:
    """One bench invocation: the store snapshot, the experiment cache and the document."""

    def __init__(self, args: argparse.Namespace, argv: List[str]):
        self.args = args
        self.out = args.out or (os.path.join(MODELS, "quick") if args.quick else RESULTS)
        self.runs = os.path.join(self.out, "accuracy_runs")
        self.models = models_dir(args)
        self.t0, self.ran, self.reused = time.time(), 0, 0
        self.table = D.load_table(args.data)
        self.doc: Dict[str, Any] = {
            "bench": "accuracy", "quick": bool(args.quick),
            "command": "python -m benches.accuracy " + " ".join(
                shlex.quote(a) for a in argv if a != "--report-only"),
            "report_only": bool(args.report_only),
            "host": "{} ({} cpus)".format(platform.platform(), os.cpu_count()),
            "settings": self.settings(), "data": {}, "experiments": {}, "zoo": {},
            "paper": R.PAPER}
        self.parts: Dict[str, Dict[str, Dict[str, D.Dataset]]] = {}

    def settings(self) -> Dict[str, Any]:
        """Everything that shapes an experiment besides its data."""
        a = self.args
        over: Dict[str, Any] = dict(QUICK["perfsage"]) if a.quick else {}
        for k, _, v in (item.partition("=") for item in a.set or []):
            try:
                over[k.strip()] = json.loads(v)  # numbers, true/false
            except ValueError:
                over[k.strip()] = v
        return {"epochs": a.epochs or (2 if a.quick else 100),
                "patience": a.patience or (2 if a.quick else 15), "perfsage": over,
                "eagle": QUICK["eagle"] if a.quick else {}, "gbr": QUICK["gbr"] if a.quick
                else {}, "fractions": list(a.fractions)}

    def prepare(self, target: str) -> bool:
        """Select and split a target's labelled models; False if there is nothing to do."""
        have = self.table.labels.get(target, {})
        metrics = [m for m in default_metrics(target) if m in have] or sorted(have)
        if not metrics:
            _log("{}: no labels in the store, skipped".format(target))
            return False
        ds = D.select(self.table, target, metrics)
        parts = {"*": D.split(ds)}
        for sp in sorted(set(ds.spaces.tolist())):
            parts[sp] = D.split(ds.subset(ds.spaces == sp))
        counts = {sp: {k: len(v) for k, v in p.items()} for sp, p in parts.items() if sp != "*"}
        spaces = [sp for sp, c in counts.items() if min(c.values()) >= MIN_SPLIT and
                  sp in (self.args.spaces or [sp])]
        self.parts[target] = parts
        fp = {sp: sorted(map("{}:{}".format, d.spaces, d.table.seed[d.index])) for sp, d in
              [("*", ds)] + [(sp, ds.subset(ds.spaces == sp)) for sp in counts]}
        self.doc["data"][target] = {"metrics": metrics, "spaces": spaces, "counts": counts,
                                    "fingerprint": {k: _hash(v) for k, v in fp.items()}}
        return True

    def run(self, name: str, spec: Dict[str, Any], fn: Callable[[Dict[str, Any], str], Dict]
            ) -> Optional[Dict[str, Any]]:
        """Run one experiment unless a finished result with the same key is cached (an
        experiment that ``--only`` leaves out shows its cached result, if any)."""
        key, path = _hash(spec), os.path.join(self.runs, name + ".json")
        fam = _family(spec["kind"])
        code = _sha256(*[os.path.join(REPO, "trainer", f) for f in _CODE[fam] + _CODE[""]]
                       )[:16] if fam else None
        selected = not self.args.report_only and (
            not self.args.only or any(fnmatch.fnmatch(name, g) for g in self.args.only))
        rec: Dict[str, Any] = {}
        if os.path.exists(path):
            with open(path) as f:
                rec = json.load(f)
        rec["stale_code"] = rec.get("code") != code  # the trainer or baseline changed since
        redo = rec["stale_code"] and selected and (self.args.rerun_stale or fam == "numpy")
        if rec.get("key") != key and not selected and _older_schema(rec, spec):
            rec["older_schema"] = rec["spec"]["feature_schema"]  # shown as such in the report
            key = rec["key"]
        if rec.get("key") == key and (rec.get("status") == "ok" or not selected) and not redo:
            self.doc["experiments"][name] = rec
            self.reused += 1
            if rec["stale_code"]:
                _log("{}: reused, but its code changed since (--rerun-stale)".format(name))
            return rec.get("result")
        if not selected:
            return None
        model_dir = os.path.join(self.models, "{}-{}".format(name, key[:8]))
        _log("[{:.0f} s] {} ...".format(time.time() - self.t0, name))
        t0 = time.time()
        rec = {"name": name, "key": key, "spec": spec, "model_dir": model_dir, "code": code}
        try:
            rec.update(status="ok", result=fn(spec, model_dir))
        except Exception as err:  # one failed experiment must not stop the bench
            traceback.print_exc()
            rec.update(status="failed", error="{}: {}".format(type(err).__name__, err)[:300])
        rec["time_s"] = time.time() - t0
        rec["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
        write_json(rec, self.runs, name + ".json")
        self.doc["experiments"][name] = rec
        self.ran += 1
        _log("  {} in {:.1f} s".format(rec["status"], rec["time_s"]))
        self.write(plot=False)
        return rec.get("result")

    def spec(self, target: str, kind: str, space: Optional[str], fraction: float = 1.0,
             **extra: Any) -> Dict[str, Any]:
        """The cache key's content: kind, settings, data fingerprint, feature schema."""
        s = self.doc["settings"]
        data = self.doc["data"][target]
        return dict(kind=kind, target=target, metrics=data["metrics"], space=space,
                    fraction=fraction, epochs=s["epochs"], patience=s["patience"],
                    data=data["fingerprint"][space or "*"],
                    feature_schema=FEATURE_SCHEMA_VERSION, **extra)

    def _split(self, spec: Dict[str, Any]) -> Dict[str, D.Dataset]:
        parts = self.parts[spec["target"]][spec["space"] or "*"]
        return dict(parts, train=D.take_fraction(parts["train"], spec["fraction"]))

    def numpy_baseline(self, spec: Dict[str, Any], model_dir: str) -> Dict[str, Any]:
        """Fit a totals or kernel-sum baseline on the training split, score the test split."""
        from trainer.baselines import kernel_sum, totals

        p, t0 = self._split(spec), time.time()
        ks = spec["kind"].startswith("kernel-sum")
        mod = kernel_sum if ks else totals
        model = kernel_sum.fit(p["train"]) if ks else totals.fit(
            p["train"], kind=spec["kind"].split("-")[1], gbr_params=spec.get("gbr"))
        fit_s, pred = time.time() - t0, mod.predict(model, p["test"])
        mod.save(model, model_dir)
        return {"per_space": score(p["test"].y, pred, p["test"].spaces, list(spec["metrics"])),
                "n_train": len(p["train"]), "fit_s": fit_s, "unmapped_test_ops": int(
                    kernel_sum.unmapped(model, p["test"]).sum()) if ks else None}

    def perfsage(self, spec: Dict[str, Any], model_dir: str) -> Dict[str, Any]:
        """Train PerfSAGE (or an ablation) with trainer.train and keep its test scores."""
        from trainer.train import TrainConfig, train

        cfg = TrainConfig(target=spec["target"], metrics=list(spec["metrics"]),
                          mode="specialized" if spec["space"] else "generalized",
                          space=spec["space"], out=model_dir, epochs=spec["epochs"],
                          patience=spec["patience"], fraction=spec["fraction"],
                          data=self.args.data,
                          **dict(spec["perfsage"], **_PERFSAGE[spec["kind"].split("-")[0]]))
        r = train(cfg, progress=self._progress)
        snap = {k: len(v) for k, v in self._split(spec).items()}
        seen = {k: sum(r["counts"][k].values()) for k in ("train", "val", "test")}
        keep = ("per_space", "epochs_run", "best_epoch", "best_val_mape", "stopped_early",
                "train_time_s", "s_per_epoch", "n_params", "counts")
        return dict({k: r[k] for k in keep}, n_train=seen["train"], store_changed=snap != seen)

    def eagle(self, spec: Dict[str, Any], model_dir: str) -> Dict[str, Any]:
        """Train Eagle on the training split with early stopping on the validation split."""
        from trainer.baselines import eagle

        p = self._split(spec)
        cfg = eagle.EagleConfig(metrics=list(spec["metrics"]), epochs=spec["epochs"],
                                patience=spec["patience"], **spec["eagle"])
        model = eagle.fit(p["train"], p["val"], cfg, progress=self._progress)
        eagle.save(model, model_dir)
        pred = eagle.predict(model, p["test"])
        return {"per_space": score(p["test"].y, pred, p["test"].spaces, list(spec["metrics"])),
                "n_train": len(p["train"]), "epochs_run": len(model.history),
                "best_epoch": model.best_epoch, "n_params": sum(w.size for w in model.weights)}

    def _progress(self, info: Dict[str, Any]) -> None:
        if info.get("event", "epoch") == "epoch":
            _log("    epoch {}  loss {:.4f}  val {}  best@{}  {:.1f} s".format(
                info["epoch"], info["train_loss"], " ".join("{} {:.1%}".format(m, v) for m, v in (
                    info.get("val_mape") or {}).items()), info["best_epoch"], info["epoch_s"]))

    def run_target(self, target: str) -> None:
        """Every experiment of one target, cheap ones first."""
        st = self.doc["settings"]
        ps = {"perfsage": st["perfsage"]}
        plan = [(k + m, self.numpy_baseline, {"gbr": st["gbr"] if k == "totals-gbr" else None})
                for k in ("kernel-sum", "totals-linear", "totals-gbr") for m in ("-spec", "-gen")]
        plan += [("perfsage-gen", self.perfsage, ps), ("peak-gen", self.perfsage, ps),
                 ("phased-gen", self.perfsage, ps), ("replayed-gen", self.perfsage, ps),
                 ("prior-gen", self.perfsage, ps), ("perfsage-spec", self.perfsage, ps),
                 ("eagle-spec", self.eagle, {"eagle": st["eagle"]})]
        plan += [(k, self.perfsage, ps) for k in ("paper-gen", "maxro-gen", "nocfe-gen", "mape-gen",
                                                  "noups-gen", "nocfe-spec")]
        rows = {r[0] for r in R.rows_for(self.doc["data"][target]["metrics"])}
        plan = [p for p in plan if p[0] in rows]  # the rows the report has for this target
        for kind, fn, extra in plan:
            if fn == self.perfsage:
                v = _PERFSAGE[kind.split("-")[0]]
                extra = dict(extra, **{k: v[k] for k in _KEYED if k in v})
            if kind == "noups-gen" and self._upsampling_adds_nothing(target):
                base = self.doc["experiments"].get(R.experiment_name(target, "perfsage-gen"), {})
                if base.get("status") != "ok":
                    continue  # nothing to be identical to yet
                fn, extra = self._identical_run(base), dict(extra, identical_to=base["key"])
            for sp in self.doc["data"][target]["spaces"] if kind.endswith("-spec") else [None]:
                self.run(R.experiment_name(target, kind, sp), self.spec(target, kind, sp, **extra),
                         fn)
        for f in [f for f in st["fractions"] if f < 1.0]:  # learning curve; 1.0 ran above
            for kind, fn, extra in [e for e in plan if e[0] in ("kernel-sum-gen", "perfsage-gen")]:
                self.run(R.experiment_name(target, kind, None, f),
                         self.spec(target, kind, None, f, **extra), fn)

    def _upsampling_adds_nothing(self, target: str) -> bool:
        """True if no space is under the upsampling share of the full training split: then
        training without upsampling is the generalized run itself (same data, same seeds)."""
        train = self.parts[target]["*"]["train"]
        return D.upsample(train) is train

    def _identical_run(self, base: Dict[str, Any]) -> Callable[[Dict[str, Any], str], Dict]:
        """An experiment that is ``base`` by construction: its result, said so, not retrained."""
        def fn(spec: Dict[str, Any], model_dir: str) -> Dict[str, Any]:
            counts = self.parts[spec["target"]]["*"]["train"].counts()
            small = min(counts, key=counts.get)
            return dict(base["result"], identical_to=base["name"], why=(
                "upsampling adds no example: the smallest space, {}, is {:.1%} of the training "
                "split (>= 10%)".format(small, counts[small] / sum(counts.values()))))
        return fn

    def zoo(self, target: str) -> None:
        """Label the zoo with Vela (cached) and score every generalized model on it."""
        if not target.startswith("ethos-u"):
            return  # zoo labels come from Vela here; a live target needs its board
        from benches.zoo import check_built

        files, skipped = check_built(ZOO_DIR)
        labels = self.run(target + "__zoo-labels", {"kind": "zoo-labels", "files": files},
                          lambda spec, _: self._zoo_labels(target, files))
        gens = {k: self.doc["experiments"].get(R.experiment_name(target, k), {}) for k in (
            "perfsage-gen", "peak-gen", "phased-gen", "replayed-gen", "prior-gen", "kernel-sum-gen",
            "totals-linear-gen", "totals-gbr-gen")}
        gens = {k: r for k, r in gens.items() if r.get("status") == "ok"}
        if not labels:
            return
        lkey = self.doc["experiments"][target + "__zoo-labels"]["key"]
        parts = []
        for kind, rec in gens.items():  # one experiment per predictor: a new model re-predicts
            spec = {"kind": "zoo", "labels": lkey, "model": [rec["key"], rec.get("finished")]}
            res = self.run("{}__zoo__{}".format(target, kind), spec,
                           lambda _, __, k=kind, r=rec: self._zoo_predict(
                               target, labels["models"], {k: r}))
            if res:
                parts.append(res)
        if parts:
            self.doc["zoo"][target] = dict(R.merge_zoo(parts), skipped=skipped + [
                "{}: {}".format(n, r["error"]) for n, r in labels["models"].items()
                if "error" in r])

    def _zoo_labels(self, target: str, files: Dict[str, str]) -> Dict[str, Any]:
        from benches.labelers.vela import label_vela, vela_version

        out = {}
        for name in files:
            try:
                r = label_vela(os.path.join(ZOO_DIR, name + ".tflite"), accelerator=target)
                out[name] = {"labels": r["labels"], "cpu_ops": r["raw"].get("cpu_ops")}
            except Exception as err:  # a model Vela rejects is reported, not fatal
                out[name] = {"error": "{}: {}".format(type(err).__name__, err)[:200]}
        return {"vela": vela_version(), "models": out}

    def _zoo_predict(self, target: str, labelled: Dict[str, Any], gens: Dict[str, Any]
                     ) -> Dict[str, Any]:
        from trainer.baselines import dataset_from_tflite, kernel_sum, totals
        from trainer.infer import predict_folder

        metrics = self.doc["data"][target]["metrics"]
        names = [n for n, r in labelled.items() if "labels" in r]
        ds = dataset_from_tflite([os.path.join(ZOO_DIR, n + ".tflite") for n in names], target,
                                 metrics, [[labelled[n]["labels"][m] for m in metrics]
                                           for n in names])
        preds = {}
        for kind, rec in gens.items():
            if not os.path.isdir(rec["model_dir"]):
                raise FileNotFoundError("{}: the model of {} is not on this machine (rerun it "
                                        "with --only)".format(rec["model_dir"], kind))
            if _family(kind) == "perfsage":
                preds[kind] = predict_folder(rec["model_dir"], ds)
            else:
                mod = kernel_sum if kind == "kernel-sum-gen" else totals
                preds[kind] = mod.predict(mod.load(rec["model_dir"]), ds)
        return R.zoo_result(names, ds.table.n_nodes.tolist(), labelled, metrics, ds.y, preds)

    def write(self, plot: bool = True) -> None:
        """Write accuracy.json, accuracy.md (and the learning-curve PNG)."""
        doc = self.doc
        doc.update(generated=datetime.datetime.now().isoformat(timespec="seconds"),
                   wall_s=time.time() - self.t0, ran=self.ran, reused=self.reused,
                   learning_curve=R.learning_curves(doc), table=R.table_rows(doc))
        write_json(doc, self.out, "accuracy.json")
        if plot:
            R.plot_learning_curve(doc, os.path.join(self.out, "accuracy_learning_curve.png"))
        with open(os.path.join(self.out, "accuracy.md"), "w") as f:
            f.write(R.markdown(doc))


def parse_args(argv: List[str]) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benches.accuracy",
                                description=__doc__.split("\n")[0])
    add = p.add_argument
    add("--quick", action="store_true", help="tiny models and epochs (smoke test)")
    add("--targets", nargs="+", help="targets (default: every labelled one)")
    add("--spaces", nargs="+", help="limit the specialized experiments")
    add("--epochs", type=int, help="max epochs (default 100; quick 2)")
    add("--patience", type=int, help="early-stopping patience (default 15; quick 2)")
    add("--set", action="extend", nargs="+", metavar="KEY=VALUE", help="TrainConfig overrides")
    add("--only", action="extend", nargs="+", metavar="GLOB", help="run only matching names")
    add("--fractions", nargs="+", type=float, default=list(FRACTIONS), help="learning curve")
    add("--no-zoo", action="store_true", help="skip the out-of-space zoo")
    add("--rerun-stale", action="store_true", help="retrain models whose trainer code changed")
    add("--report-only", action="store_true",
        help="run nothing: write the report from the finished runs the other options key")
    add("--data", help="store root (default data/edgedlperf)")
    add("--out", help="output folder (default benches/results; quick: .cache/accuracy/quick)")
    add("--cache", help="trained models (default .cache/accuracy, or OUT/cache with --out)")
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the bench; returns the exit code (1 if an experiment failed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    args.fractions = sorted(set(args.fractions) | {1.0})
    warnings.filterwarnings("ignore", message="An input array is constant")  # rho undefined
    bench = Bench(args, argv)
    targets = args.targets or sorted(bench.table.labels)
    _log("store: {} models; targets: {}".format(len(bench.table.seed), ", ".join(targets)))
    for target in targets:
        if not bench.prepare(target):
            continue
        bench.run_target(target)
        if not args.no_zoo:
            bench.zoo(target)
    bench.write()
    failed = [n for n, r in bench.doc["experiments"].items() if r.get("status") != "ok"]
    _log("done in {:.0f} s: {} run, {} reused, {} failed; {}".format(
        time.time() - bench.t0, bench.ran, bench.reused, len(failed),
        os.path.join(bench.out, "accuracy.md")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
