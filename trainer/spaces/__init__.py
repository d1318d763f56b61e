"""The design spaces: the four of the EdgeDLPerf dataset (PerfSAGE §3) and ``families``.

A model is named by its design space and an integer seed; everything about it follows from
those two, in any process on any machine:

* :func:`sample_config` draws the architecture choices (uniform, independent, numpy only);
* :func:`build_keras` builds the Keras model and sets untrained random weights from the seed;
* :func:`calibration_batches` gives the random representative inputs for INT8 quantization.

Seeds are derived from ``(space, seed, purpose)`` with SHA-256, never with Python's
salted ``hash()``, so the architecture, the weights and the calibration data are three
independent, stable random streams.

Example::

    from trainer.spaces import sample_config, build_keras
    sample_config("cnn-kws", 3)          # cheap: no TensorFlow import
    model = build_keras("cnn-kws", 3)    # imports tf_keras (TF_USE_LEGACY_KERAS=1 is set)

The spaces: ``cnn-cifar10`` and ``cnn-imagenet`` (:mod:`trainer.spaces.cnn`), ``cnn-kws``
(:mod:`trainer.spaces.kws`) and ``vit-cifar100`` (:mod:`trainer.spaces.vit`); ``families``
(:mod:`trainer.spaces.families`) samples 14 real architecture families (MobileNets,
EfficientNets, ResNet, RegNet, DenseNet, U-Net, Inception, ViT, KWS, MLPs, 1-D convnets), its
configs name their ``family``.
"""

from __future__ import annotations

import hashlib
import importlib
import os

import numpy as np

from edge_predictor.errors import InputError

__all__ = [
    "SPACES",
    "derive_seed",
    "sample_config",
    "build_keras",
    "set_weights",
    "calibration_batches",
]

SPACES = ("cnn-cifar10", "cnn-imagenet", "cnn-kws", "vit-cifar100", "families")

_FAMILY = {
    "cnn-cifar10": "trainer.spaces.cnn",
    "cnn-imagenet": "trainer.spaces.cnn",
    "cnn-kws": "trainer.spaces.kws",
    "vit-cifar100": "trainer.spaces.vit",
    "families": "trainer.spaces.families",
}


def _check(space, seed):
    """Validates a (space, seed) pair; raises :class:`InputError` on bad input."""
    if space not in SPACES:
        raise InputError(
            "unknown design space {!r}; known: {}".format(space, ", ".join(SPACES))
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError("seed must be a non-negative integer, got {!r}".format(seed))


def derive_seed(space, seed, purpose):
    """A stable 64-bit integer from ``(space, seed, purpose)``.

    Args:
        space: a design-space name.
        seed: the model's integer seed.
        purpose: which random stream, e.g. ``"arch"``, ``"weights"``, ``"calibration"``.

    Returns:
        The first 8 bytes of SHA-256 of ``"space:seed:purpose"`` as an unsigned integer.
    """
    text = "{}:{}:{}".format(space, int(seed), purpose).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _family(space):
    return importlib.import_module(_FAMILY[space])


def sample_config(space, seed):
    """Draws the architecture choices of model ``seed`` of ``space``.

    Args:
        space: one of :data:`SPACES`.
        seed: a non-negative integer.

    Returns:
        A JSON-serialisable dict with ``space``, ``seed`` and the family's choices.

    Raises:
        InputError: unknown space or a bad seed.
    """
    _check(space, seed)
    rng = np.random.default_rng(derive_seed(space, seed, "arch"))
    config = {"space": space, "seed": int(seed)}
    config.update(_family(space).sample(space, rng))
    return config


def _weight_values(name, shape, rng):
    """Random values for one weight, scaled by its role so activations stay in range."""
    shape = tuple(int(s) for s in shape)
    base = name.split("/")[-1].split(":")[0]
    if base == "depthwise_kernel":
        std = np.sqrt(2.0 / float(np.prod(shape[:2])))
    elif base == "kernel" and len(shape) == 4:
        std = np.sqrt(2.0 / float(np.prod(shape[:3])))
    elif base == "kernel":
        std = np.sqrt(1.0 / float(np.prod(shape[:-1])))
    elif base == "moving_variance":  # BatchNormalization (families space): must be positive
        return (1.0 + 0.1 * np.abs(rng.standard_normal(shape))).astype(np.float32)
    elif base == "gamma":
        return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    elif base in ("cls_token", "pos_embed"):
        std = 0.02
    else:  # bias, beta and anything else
        std = 0.05
    return (std * rng.standard_normal(shape)).astype(np.float32)


def set_weights(model, space, seed):
    """Overwrites every weight of ``model`` with values drawn from ``(space, seed)``.

    Weights are visited in ``model.weights`` order, which a given configuration fixes, so the
    same model always gets the same values, independently of TensorFlow's global seeds.
    """
    rng = np.random.default_rng(derive_seed(space, seed, "weights"))
    model.set_weights([_weight_values(w.name, w.shape, rng) for w in model.weights])
    return model


def build_keras(space, seed):
    """Builds model ``seed`` of ``space`` with deterministic random (untrained) weights.

    Sets ``TF_USE_LEGACY_KERAS=1`` if unset and imports ``tf_keras`` (Keras 2).

    Returns:
        A ``tf_keras.Model``: batch size 1, fixed input shape, float32 logits. Its name and
        every layer's name are fixed (``<space>_s<seed>``, layer names from the config).

    Raises:
        InputError: unknown space or a bad seed.
    """
    config = sample_config(space, seed)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    name = "{}_s{}".format(space.replace("-", "_"), int(seed))
    model = _family(space).build(config, name=name)
    return set_weights(model, space, seed)


def calibration_batches(space, seed, n=4):
    """The representative dataset for INT8 post-training quantization of a model.

    Args:
        space: one of :data:`SPACES`.
        seed: the model's seed (the inputs are drawn from ``(space, seed)``).
        n: number of batches of size 1. A handful suffices for random-weight models: the
            dataset's labels depend on the graph and tensor shapes, not on the exact scales.

    Returns:
        A zero-argument callable returning a fresh generator of ``[array]`` lists (the form
        ``TFLiteConverter.representative_dataset`` expects); every call yields the same
        arrays. Images are uniform in [-1, 1]; MFCCs (``cnn-kws``, and ``families`` configs
        whose ``input_kind`` is ``mfcc``), vectors and signals standard normal; all float32
        with a leading batch dimension of 1.

    Raises:
        InputError: unknown space, a bad seed or ``n < 1``.
    """
    config = sample_config(space, seed)
    if int(n) < 1:
        raise InputError("n must be at least 1, got {!r}".format(n))
    shape = (1,) + tuple(config["input_shape"])
    rng = np.random.default_rng(derive_seed(space, seed, "calibration"))
    if space == "cnn-kws" or config.get("input_kind", "image") != "image":
        batches = [rng.standard_normal(shape).astype(np.float32) for _ in range(int(n))]
    else:
        batches = [rng.uniform(-1.0, 1.0, shape).astype(np.float32) for _ in range(int(n))]

    def generator():
        for batch in batches:
            yield [batch.copy()]

    return generator
