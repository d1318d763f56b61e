"""Candidate Keras model -> full-integer INT8 TFLite, reproducibly.

:func:`to_int8_tflite` runs TensorFlow Lite post-training quantization with a representative
dataset: INT8 weights and activations, INT8 input and output tensors, INT8 builtin ops only
(``TFLITE_BUILTINS_INT8``), batch 1 and the model's fixed input shape. :func:`build_tflite`
chains it with :mod:`trainer.spaces`, so ``build_tflite(space, seed)`` is a pure function of
its arguments (and of the TensorFlow version).

Reproducibility: two calls give the same bytes (same sha256), in one process or in two
(checked by ``tests/converters/test_quantize.py`` and on every space with TensorFlow 2.21).
What makes it so:

* every Keras layer, sub-layer and the model itself carry fixed names (see the space
  modules), so tensor names in the flatbuffer never depend on Keras' per-process name
  counters (``conv2d_7``): a second model built in the same process converts to the same
  bytes as the first;
* weights and calibration inputs come from SHA-256-derived numpy streams
  (:func:`trainer.spaces.derive_seed`), not from TensorFlow's global random state, so no
  ``tf.random`` seed is needed;
* the model is converted from a traced ``tf.function`` whose input signature has a fixed name
  (``input``); the converter writes no timestamps, paths or function ids into the file
  (its ``CONVERSION_METADATA`` holds converter options only), and calibration is a plain
  forward pass of the TFLite calibrator over the given inputs.

If a future TensorFlow breaks this, compare two outputs with the ``tflite`` schema package
(tensor names, buffers, metadata) to find the field that moved.

Speed: the traced-function path avoids ``from_keras_model``'s SavedModel export (about 4x
faster on a ViT), and calibration uses 4 random samples by default
(:data:`CALIBRATION_SAMPLES`): with untrained weights, more samples only refine quantization
scales that the performance labels do not depend on. TensorFlow is imported inside the
functions only.
"""

from __future__ import annotations

import os

__all__ = ["CALIBRATION_SAMPLES", "to_int8_tflite", "build_tflite"]

CALIBRATION_SAMPLES = 4


def _representative(calibration):
    """Normalises ``calibration`` to the zero-argument generator function TFLite expects."""
    if callable(calibration):
        return calibration
    batches = [b if isinstance(b, (list, tuple)) else [b] for b in calibration]

    def generator():
        for batch in batches:
            yield list(batch)

    return generator


def to_int8_tflite(keras_model, calibration):
    """Converts a Keras model to a full-integer INT8 TFLite flatbuffer.

    Args:
        keras_model: a ``tf_keras.Model`` with a fixed input shape and batch size 1.
        calibration: the representative dataset: a zero-argument callable returning a
            generator of input lists (as from :func:`trainer.spaces.calibration_batches`),
            or an iterable of arrays / lists of arrays (one per model input).

    Returns:
        The ``.tflite`` bytes: INT8 weights and activations, INT8 input and output.
    """
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    spec = tf.TensorSpec(keras_model.inputs[0].shape, tf.float32, name="input")
    function = tf.function(lambda x: keras_model(x, training=False), input_signature=[spec])
    # Converting a traced concrete function is ~4x faster than from_keras_model (which
    # exports a SavedModel first). No trackable object is passed (the weights are captured
    # as constants): TF 2.21 then logs that this "deprecated conversion path" is used;
    # passing the model goes through a SavedModel export again and is as slow (measured
    # 1.8 s vs 7.1 s on a 7-layer ViT). Revisit if a TF upgrade removes this path.
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [function.get_concrete_function()]
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _representative(calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def build_tflite(space, seed, calibration_samples=CALIBRATION_SAMPLES):
    """Builds, quantizes and serialises model ``seed`` of design space ``space``.

    Args:
        space: one of :data:`trainer.spaces.SPACES`.
        seed: a non-negative integer.
        calibration_samples: representative inputs used for calibration (default 4).

    Returns:
        The INT8 ``.tflite`` bytes; identical for identical arguments and TensorFlow version.

    Raises:
        edge_predictor.errors.InputError: unknown space or bad seed.
    """
    from trainer.spaces import build_keras, calibration_batches

    calibration = calibration_batches(space, seed, calibration_samples)
    model = build_keras(space, seed)
    return to_int8_tflite(model, calibration)
