"""Out-of-space zoo: real-world INT8 architectures with random weights.

These models exercise the TFLite reader on graphs nobody designed for it, and measure how the
predictor does on architectures outside the training design spaces (the predictor never trains
on them). Weights are random (``weights=None`` everywhere, never downloaded) and deterministic
from a seed; every model is full-integer post-training quantized with int8 input and output,
batch 1. Each model belongs to a family (:data:`FAMILIES`, :func:`zoo_family`), named after the
design-space families where one fits, for leave-one-family-out scoring.

This module holds the registry, the conversion and the CLI; the hand-built architectures are in
:mod:`benches.zoo_models` (images) and :mod:`benches.zoo_sequence` (audio, text, sequences), the
checks of a built model in :mod:`benches.zoo_check`.

Usage::

    python -m benches.zoo --out /work/zoo_cache               # every model, Vela check, manifest
    python -m benches.zoo --out /work/zoo_cache --only ds_cnn vit_tiny
    python -m benches.zoo --out /work/zoo_cache --families kws conv1d

The ``.tflite`` files are a cache (not committed); ``benches/zoo_manifest.json`` records for each
model its family, operator and tensor counts, size, sha256, conversion time and Vela's outcome.
"""

import argparse
import collections
import hashlib
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np

from benches import zoo_models as M
from benches import zoo_sequence as S
from benches.zoo_check import model_stats, vela_check

__all__ = ["FAMILIES", "MANIFEST", "ZOO", "ZooEntry", "build_zoo_model", "build_zoo_tflite",
           "check_built", "main", "model_stats", "vela_check", "zoo_family"]

MANIFEST = Path(__file__).resolve().parent / "zoo_manifest.json"
IMAGENET = M.IMAGENET
_UNIT = (-1.0, 1.0)  # calibration range of models that expect inputs in [-1, 1]
_PIXELS = (0.0, 255.0)  # ... and of those whose first layer rescales from [0, 255]


class ZooEntry(collections.namedtuple("ZooEntry", "build family input_range")):
    """One zoo architecture: its builder, its family and its calibration input range.

    Attributes:
        build: Callable without arguments returning a ``tf_keras.Model`` (batch 1).
        family: Architecture family (a design-space family name where one fits).
        input_range: ``(low, high)`` of the uniform random calibration inputs.
    """

    __slots__ = ()

    def __call__(self):
        """Build the Keras model (same as ``entry.build()``)."""
        return self.build()


def _app(fn_name, shape=IMAGENET, **kwargs):
    """Builder for a ``tf_keras.applications`` model with random weights and batch 1."""

    def build():
        keras = M.keras()
        inp = keras.Input(shape, batch_size=1)
        return getattr(keras.applications, fn_name)(weights=None, input_tensor=inp, **kwargs)

    args = "".join(", {}={}".format(k, v) for k, v in sorted(kwargs.items()))
    build.__doc__ = "tf_keras.applications.{}(weights=None{}), input {}.".format(
        fn_name, args, shape)
    return build


def _e(build, family, input_range=_UNIT):
    return ZooEntry(build, family, input_range)


ZOO = collections.OrderedDict([
    ("mobilenet_v1", _e(_app("MobileNet"), "mobilenet_v1")),
    ("mobilenet_v1_075_128", _e(_app("MobileNet", (128, 128, 3), alpha=0.75), "mobilenet_v1")),
    ("mobilenet_v1_050_160", _e(_app("MobileNet", (160, 160, 3), alpha=0.5), "mobilenet_v1")),
    ("vww_mobilenet_v1_025", _e(_app("MobileNet", (96, 96, 3), alpha=0.25, classes=2),
                                "mobilenet_v1")),
    ("mobilenet_v2", _e(_app("MobileNetV2"), "mobilenet_v2")),
    ("mobilenet_v2_075_160", _e(_app("MobileNetV2", (160, 160, 3), alpha=0.75), "mobilenet_v2")),
    ("mobilenet_v2_050_128", _e(_app("MobileNetV2", (128, 128, 3), alpha=0.5), "mobilenet_v2")),
    ("mobilenet_v2_035_96", _e(_app("MobileNetV2", (96, 96, 3), alpha=0.35), "mobilenet_v2")),
    ("mobilenet_v3_small", _e(_app("MobileNetV3Small"), "mobilenet_v3", _PIXELS)),
    ("mobilenet_v3_large", _e(_app("MobileNetV3Large"), "mobilenet_v3", _PIXELS)),
    ("mobilenet_v3_small_075_128", _e(_app("MobileNetV3Small", (128, 128, 3), alpha=0.75),
                                      "mobilenet_v3", _PIXELS)),
    ("mobilenet_v3_large_min", _e(_app("MobileNetV3Large", minimalistic=True), "mobilenet_v3",
                                  _PIXELS)),
    ("efficientnet_b0", _e(_app("EfficientNetB0"), "efficientnet", _PIXELS)),
    ("efficientnet_b1", _e(_app("EfficientNetB1", (240, 240, 3)), "efficientnet", _PIXELS)),
    ("efficientnetv2_b0", _e(_app("EfficientNetV2B0"), "efficientnet_v2", _PIXELS)),
    ("efficientnetv2_b1", _e(_app("EfficientNetV2B1", (240, 240, 3)), "efficientnet_v2",
                             _PIXELS)),
    ("resnet8_cifar", _e(M.resnet8_cifar, "resnet")),
    ("resnet18", _e(M.resnet18, "resnet")),
    ("resnet34", _e(M.resnet34, "resnet")),
    ("resnet50_160", _e(_app("ResNet50", (160, 160, 3)), "resnet")),
    ("regnetx_002", _e(_app("RegNetX002"), "regnet", _PIXELS)),
    ("regnetx_004", _e(_app("RegNetX004"), "regnet", _PIXELS)),
    ("regnety_002", _e(_app("RegNetY002"), "regnet", _PIXELS)),
    ("densenet121", _e(_app("DenseNet121"), "densenet")),
    ("nasnet_mobile", _e(_app("NASNetMobile"), "nasnet")),
    ("squeezenet", _e(M.squeezenet, "inception")),
    ("inception_v3_160", _e(_app("InceptionV3", (160, 160, 3)), "inception")),
    ("shufflenet_v2", _e(M.shufflenet_v2, "shufflenet")),
    ("unet", _e(M.unet, "unet")),
    ("unet_small", _e(M.unet_small, "unet")),
    ("fpn_seg", _e(M.fpn_seg, "segmentation")),
    ("ssd_mobilenet_v2", _e(M.ssd_mobilenet_v2, "detection")),
    ("yolo_tiny", _e(M.yolo_tiny, "detection")),
    ("vit_tiny", _e(S.vit_tiny, "vit")),
    ("deit_tiny", _e(S.deit_tiny, "vit")),
    ("kwt", _e(S.kwt, "vit")),
    ("ds_cnn", _e(S.ds_cnn, "kws")),
    ("ds_cnn_m", _e(S.ds_cnn_m, "kws")),
    ("ds_cnn_l", _e(S.ds_cnn_l, "kws")),
    ("micronet_kws_s", _e(S.micronet_kws_s, "kws")),
    ("dnn_kws", _e(S.dnn_kws, "dense")),
    ("anomaly_ae", _e(S.anomaly_ae, "dense")),
    ("lstm_kws", _e(S.lstm_kws, "rnn")),
    ("crnn_kws", _e(S.crnn_kws, "rnn")),
    ("m5", _e(S.m5, "conv1d")),
    ("tcn", _e(S.tcn, "conv1d")),
    ("tc_resnet8", _e(S.tc_resnet8, "conv1d")),
])

FAMILIES = {name: entry.family for name, entry in ZOO.items()}


def zoo_family(name):
    """The family of a zoo model (e.g. ``"mobilenet_v2"``, ``"kws"``).

    Args:
        name: A key of ``ZOO``, or a path or file name such as ``"zoo/ds_cnn.tflite"``.

    Returns:
        The family name.

    Raises:
        KeyError: if the name is not in the zoo.
    """
    base = os.path.basename(str(name))
    return FAMILIES[base[:-len(".tflite")] if base.endswith(".tflite") else base]


def build_zoo_model(name, seed=0):
    """Build one zoo architecture as a Keras model with seeded random weights.

    Args:
        name: A key of ``ZOO``.
        seed: Seed for the weight initialisers.

    Returns:
        A ``tf_keras.Model`` with batch size 1.
    """
    keras = M.keras()
    keras.backend.clear_session()  # layer names (hence tensor names) restart from scratch
    keras.utils.set_random_seed(seed)
    return ZOO[name]()


def build_zoo_tflite(name, seed=0, n_calib=4):
    """Build one zoo model and convert it to a full-integer INT8 TFLite flatbuffer.

    Args:
        name: A key of ``ZOO``.
        seed: Seed for the weights and for the random calibration samples.
        n_calib: Number of calibration samples.

    Returns:
        The ``.tflite`` bytes (int8 input and output).
    """
    import tensorflow as tf

    model = build_zoo_model(name, seed)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    low, high = ZOO[name].input_range
    rng = np.random.default_rng(seed)
    calib = [rng.uniform(low, high, size=(1,) + shape).astype(np.float32)
             for _ in range(n_calib)]

    def representative():
        for sample in calib:
            yield [sample]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def check_built(zoo_dir, manifest_path=MANIFEST):
    """Which built zoo files match the manifest.

    Args:
        zoo_dir: the folder ``python -m benches.zoo --out`` wrote.
        manifest_path: the manifest to check against.

    Returns:
        ``(ok, skipped)``: ``{name: sha256}`` of the files whose sha256 is the manifest's, in
        name order, and one ``"<name>: <reason>"`` line per other manifest model.
    """
    models = json.loads(Path(manifest_path).read_text())["models"]
    ok, skipped = {}, []
    for name in sorted(models):
        path = os.path.join(zoo_dir, name + ".tflite")
        if not os.path.exists(path):
            skipped.append("{}: not built (python -m benches.zoo --out {})".format(name, zoo_dir))
            continue
        with open(path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        if sha == models[name]["sha256"]:
            ok[name] = sha
        else:
            skipped.append("{}: sha256 differs from the manifest".format(name))
    return ok, skipped


def _header(seed, n_calib):
    from importlib.metadata import version

    return {"seed": seed, "calibration_samples": n_calib, "tensorflow": version("tensorflow"),
            "vela": version("ethos-u-vela"), "vela_accelerator": "ethos-u55-128",
            "host": platform.machine(),
            "ops_source": "tf.lite.Interpreter BUILTIN_WITHOUT_DEFAULT_DELEGATES",
            "tensors_source": "flatbuffer subgraph 0",
            "files": "written by `python -m benches.zoo --out DIR`, not committed"}


def _write_manifest(path, header, models):
    """Write the manifest: the header, then every model (sorted) tagged with its family."""
    for name in list(models):
        if name in FAMILIES:  # "family" first
            models[name] = dict({"family": FAMILIES[name]},
                                **{k: v for k, v in models[name].items() if k != "family"})
    manifest = dict(header, models={k: models[k] for k in sorted(models)})
    text = json.dumps(manifest, indent=1)  # then put short lists on one line:
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: f"[{' '.join(m[1].split())}]", text)
    Path(path).write_text(text + "\n")


def main(argv=None):
    """CLI: build zoo models into ``--out``, check them with Vela, update the manifest."""
    parser = argparse.ArgumentParser(prog="python -m benches.zoo", description=main.__doc__)
    parser.add_argument("--out", default=".cache/zoo", help="folder for the .tflite files")
    parser.add_argument("--only", nargs="+", choices=list(ZOO), help="models to build")
    parser.add_argument("--families", nargs="+", choices=sorted(set(FAMILIES.values())),
                        help="build every model of these families")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calib", type=int, default=4, help="calibration samples")
    parser.add_argument("--manifest", default=str(MANIFEST))
    parser.add_argument("--no-vela", action="store_true", help="skip the Vela compile check")
    args = parser.parse_args(argv)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = Path(args.manifest)
    models = {}
    if manifest_path.exists():
        models = json.loads(manifest_path.read_text()).get("models", {})
    header = _header(args.seed, args.calib)
    names = list(args.only or [])
    names += [n for n in ZOO if args.families and FAMILIES[n] in args.families and n not in names]
    for name in names or list(ZOO):
        print(f"[zoo] {name} ...", flush=True)
        entry = {}
        start = time.perf_counter()
        try:
            data = build_zoo_tflite(name, seed=args.seed, n_calib=args.calib)
        except Exception as exc:  # noqa: BLE001 - record the failure, go on
            entry["error"] = f"{type(exc).__name__}: {str(exc)[:400]}"
            print(f"[zoo] {name} FAILED: {entry['error']}", flush=True)
        else:
            entry["convert_s"] = round(time.perf_counter() - start, 1)
            path = out_dir / (name + ".tflite")
            path.write_bytes(data)
            entry.update(model_stats(data))
            if not args.no_vela:
                entry["vela"] = vela_check(path)
            print(f"[zoo] {name}: {entry['ops']} ops, {entry['size_mb']:.2f} MB, "
                  f"{entry['convert_s']:.1f} s, vela {entry.get('vela', {}).get('ok')}", flush=True)
        models[name] = entry
        _write_manifest(manifest_path, header, models)
    return 0


if __name__ == "__main__":
    sys.exit(main())
