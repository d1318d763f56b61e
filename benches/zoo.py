"""Out-of-space zoo: real-world INT8 architectures with random weights.

These models exercise the TFLite reader on graphs nobody designed for it, and later measure how
the predictor does on architectures outside the training design spaces. Weights are random
(``weights=None`` everywhere, never downloaded) and deterministic from a seed; every model is
full-integer post-training quantized with int8 input and output, batch 1.

Usage::

    python -m benches.zoo --out .cache/zoo                 # every model, Vela check, manifest
    python -m benches.zoo --out .cache/zoo --only ds_cnn vit_tiny

The ``.tflite`` files are a cache (not committed); ``benches/zoo_manifest.json`` records for each
model its operator and tensor counts, size, sha256, conversion time and whether Vela compiles it.
"""

import argparse
import csv
import glob
import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np

__all__ = ["ZOO", "build_zoo_model", "build_zoo_tflite", "check_built", "main", "model_stats",
           "vela_check"]

MANIFEST = Path(__file__).resolve().parent / "zoo_manifest.json"
IMAGENET = (224, 224, 3)
# Models whose first layer rescales from [0, 255]; the others expect inputs in [-1, 1].
_RANGE_255 = {"mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
              "efficientnetv2_b0", "regnetx_002"}


def _keras():
    import tf_keras

    return tf_keras


def _app(fn_name, shape=IMAGENET, **kwargs):
    """Builder for a ``tf_keras.applications`` model with random weights and batch 1."""

    def build():
        keras = _keras()
        inp = keras.Input(shape, batch_size=1)
        return getattr(keras.applications, fn_name)(weights=None, input_tensor=inp, **kwargs)

    build.__doc__ = f"tf_keras.applications.{fn_name}(weights=None), input {shape}."
    return build


def _conv_bn(x, filters, kernel, strides=1, relu=True):
    layers = _keras().layers
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x) if relu else x


def resnet18():
    """ResNet-18 (He et al. 2016): basic blocks [2, 2, 2, 2], 224x224, 1000 classes."""
    keras = _keras()
    layers = keras.layers
    inp = keras.Input(IMAGENET, batch_size=1)
    x = _conv_bn(inp, 64, 7, strides=2)
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            strides = 2 if stage > 0 and block == 0 else 1
            shortcut = x
            if strides != 1 or x.shape[-1] != filters:
                shortcut = _conv_bn(x, filters, 1, strides=strides, relu=False)
            y = _conv_bn(x, filters, 3, strides=strides)
            y = _conv_bn(y, filters, 3, relu=False)
            x = layers.ReLU()(layers.Add()([shortcut, y]))
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(1000, activation="softmax")(x)
    return keras.Model(inp, out, name="resnet18")


def squeezenet():
    """SqueezeNet 1.1 (Iandola et al. 2016): fire modules, 224x224, 1000 classes."""
    keras = _keras()
    layers = keras.layers

    def fire(x, squeeze, expand):
        s = layers.Conv2D(squeeze, 1, activation="relu")(x)
        e1 = layers.Conv2D(expand, 1, activation="relu")(s)
        e3 = layers.Conv2D(expand, 3, padding="same", activation="relu")(s)
        return layers.Concatenate()([e1, e3])

    inp = keras.Input(IMAGENET, batch_size=1)
    x = layers.Conv2D(64, 3, strides=2, activation="relu")(inp)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = fire(fire(x, 16, 64), 16, 64)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = fire(fire(x, 32, 128), 32, 128)
    x = layers.MaxPooling2D(3, strides=2)(x)
    for squeeze, expand in ((48, 192), (48, 192), (64, 256), (64, 256)):
        x = fire(x, squeeze, expand)
    x = layers.Conv2D(1000, 1, activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, layers.Softmax()(x), name="squeezenet")


def ds_cnn():
    """DS-CNN-S keyword spotter (Zhang et al. 2017, "Hello Edge"): 49x10 MFCC, 12 classes."""
    keras = _keras()
    layers = keras.layers
    inp = keras.Input((49, 10, 1), batch_size=1)
    x = _conv_bn(inp, 64, (10, 4), strides=2)
    for _ in range(4):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
        x = _conv_bn(x, 64, 1)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(12, activation="softmax")(x)
    return keras.Model(inp, out, name="ds_cnn")


def unet():
    """UNet (Ronneberger et al. 2015), 4 levels 16-128 filters, Conv2DTranspose, 128x128."""
    keras = _keras()
    layers = keras.layers
    inp = keras.Input((128, 128, 3), batch_size=1)
    x, skips = inp, []
    for filters in (16, 32, 64, 128):
        x = _conv_bn(_conv_bn(x, filters, 3), filters, 3)
        skips.append(x)
        x = layers.MaxPooling2D(2)(x)
    x = _conv_bn(_conv_bn(x, 256, 3), 256, 3)
    for filters, skip in zip((128, 64, 32, 16), reversed(skips)):
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)
        x = layers.Concatenate()([skip, x])
        x = _conv_bn(_conv_bn(x, filters, 3), filters, 3)
    out = layers.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inp, out, name="unet")


def vit_tiny():
    """Small ViT: 16x16 patch conv, 196 tokens x 192, 4 pre-LN layers of 3-head MHA, 224x224."""
    keras = _keras()
    layers = keras.layers
    dim, heads, depth, mlp = 192, 3, 4, 768

    class PositionEmbedding(layers.Layer):
        def build(self, input_shape):
            self.pos = self.add_weight(
                name="pos", shape=(1,) + tuple(input_shape[1:]),
                initializer=keras.initializers.RandomNormal(stddev=0.02))

        def call(self, x):
            return x + self.pos

    inp = keras.Input(IMAGENET, batch_size=1)
    x = layers.Conv2D(dim, 16, strides=16)(inp)
    x = PositionEmbedding()(layers.Reshape((196, dim))(x))
    for _ in range(depth):
        h = layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.MultiHeadAttention(heads, dim // heads)(h, h)
        x = layers.Add()([x, h])
        h = layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.Dense(mlp, activation="gelu")(h)
        x = layers.Add()([x, layers.Dense(dim)(h)])
    x = layers.GlobalAveragePooling1D()(layers.LayerNormalization(epsilon=1e-6)(x))
    out = layers.Dense(1000, activation="softmax")(x)
    return keras.Model(inp, out, name="vit_tiny")


ZOO = {
    "mobilenet_v1": _app("MobileNet"),
    "mobilenet_v2": _app("MobileNetV2"),
    "mobilenet_v3_small": _app("MobileNetV3Small"),
    "mobilenet_v3_large": _app("MobileNetV3Large"),
    "efficientnet_b0": _app("EfficientNetB0"),
    "efficientnetv2_b0": _app("EfficientNetV2B0"),
    "regnetx_002": _app("RegNetX002"),
    "densenet121": _app("DenseNet121"),
    "nasnet_mobile": _app("NASNetMobile"),
    "vit_tiny": vit_tiny,
    "unet": unet,
    "ds_cnn": ds_cnn,
    "resnet18": resnet18,
    "squeezenet": squeezenet,
}


def build_zoo_model(name, seed=0):
    """Build one zoo architecture as a Keras model with seeded random weights.

    Args:
        name: A key of ``ZOO``.
        seed: Seed for the weight initialisers.

    Returns:
        A ``tf_keras.Model`` with batch size 1.
    """
    keras = _keras()
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
    low, high = (0.0, 255.0) if name in _RANGE_255 else (-1.0, 1.0)
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


def model_stats(data):
    """Operator/tensor counts, op-type histogram, size and sha256 of a ``.tflite``.

    Args:
        data: The flatbuffer bytes.

    Returns:
        A dict; ``ops`` comes from the TensorFlow interpreter without default delegates,
        ``tensors`` from subgraph 0 of the flatbuffer.
    """
    import tensorflow as tf
    import tflite

    interp = tf.lite.Interpreter(
        model_content=data,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType
        .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ops = [d["op_name"] for d in interp._get_ops_details()]
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    sub = tflite.Model.GetRootAsModel(data, 0).Subgraphs(0)
    return {"ops": len(ops), "tensors": sub.TensorsLength(), "size_mb": round(len(data) / 1e6, 3),
            "sha256": hashlib.sha256(data).hexdigest(), "input": [int(d) for d in inp["shape"]],
            "io_dtypes": [np.dtype(inp["dtype"]).name, np.dtype(out["dtype"]).name],
            "op_types": {k: ops.count(k) for k in sorted(set(ops))}}


class _CaptureFds:
    """Send file descriptors 1 and 2 to a temporary file (Vela's C++ core writes there)."""

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self.log = tempfile.TemporaryFile(mode="w+")
        self.saved = [os.dup(1), os.dup(2)]
        for fd in (1, 2):
            os.dup2(self.log.fileno(), fd)
        return self

    def __exit__(self, *exc):
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)
        self.log.seek(0)
        self.text = self.log.read()
        self.log.close()
        return False


def vela_check(path, accelerator="ethos-u55-128"):
    """Compile a model with Vela in-process and summarise the outcome.

    Args:
        path: The ``.tflite`` file.
        accelerator: Vela ``--accelerator-config``.

    Returns:
        A dict with ``ok``, ``time_s`` and, on success, ``inference_time_ms``, ``sram_kib`` and
        ``cpu_ops`` (operators Vela left to the CPU), or ``error`` on failure.
    """
    import tflite
    from ethosu.vela.vela import main as vela_main

    result = {"ok": False}
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        error = None
        with _CaptureFds() as cap:
            try:
                rc = vela_main([str(path), "--accelerator-config", accelerator,
                                "--output-dir", out_dir])
                if rc:
                    error = f"exit code {rc}"
            except BaseException as exc:  # noqa: BLE001 - VelaError, SystemExit, ...
                error = f"{type(exc).__name__}: {exc}"
        result["time_s"] = round(time.perf_counter() - start, 2)
        summaries = glob.glob(os.path.join(out_dir, "*_summary_*.csv"))
        outputs = glob.glob(os.path.join(out_dir, "*_vela.tflite"))
        if error or not summaries or not outputs:
            tail = (error or "no Vela output") + " | " + cap.text.strip()[-300:]
            result["error"] = tail.strip(" |")
            return result
        with open(summaries[0], newline="") as fh:
            row = next(csv.DictReader(fh))
        model = tflite.Model.GetRootAsModel(Path(outputs[0]).read_bytes(), 0)
        sub, npu = model.Subgraphs(0), set()
        for i in range(model.OperatorCodesLength()):
            if (model.OperatorCodes(i).CustomCode() or b"") == b"ethos-u":
                npu.add(i)
        cpu_ops = sum(sub.Operators(i).OpcodeIndex() not in npu
                      for i in range(sub.OperatorsLength()))
        result.update(ok=True, inference_time_ms=round(float(row["inference_time"]) * 1e3, 4),
                      sram_kib=round(float(row["sram_memory_used"]), 2), cpu_ops=cpu_ops)
    return result


def _header(seed, n_calib):
    from importlib.metadata import version

    return {"seed": seed, "calibration_samples": n_calib, "tensorflow": version("tensorflow"),
            "vela": version("ethos-u-vela"), "vela_accelerator": "ethos-u55-128",
            "host": platform.machine(),
            "ops_source": "tf.lite.Interpreter BUILTIN_WITHOUT_DEFAULT_DELEGATES",
            "tensors_source": "flatbuffer subgraph 0",
            "files": "written by `python -m benches.zoo --out DIR`, not committed"}


def main(argv=None):
    """CLI: build zoo models into ``--out``, check them with Vela, update the manifest."""
    parser = argparse.ArgumentParser(prog="python -m benches.zoo", description=main.__doc__)
    parser.add_argument("--out", default=".cache/zoo", help="folder for the .tflite files")
    parser.add_argument("--only", nargs="+", choices=sorted(ZOO), help="models to build")
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
    manifest = _header(args.seed, args.calib)
    for name in args.only or list(ZOO):
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
        manifest["models"] = {k: models[k] for k in sorted(models)}
        text = json.dumps(manifest, indent=1)  # then put short lists on one line:
        text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: f"[{' '.join(m[1].split())}]", text)
        manifest_path.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
