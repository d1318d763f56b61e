"""Keyword-spotting design space ``cnn-kws`` (PerfSAGE §3.2).

Derived from the DS-CNN space of MicroNets (Banbury et al., 2021) with kernel-size options
added, including non-square filters. A model is

* a first convolution on the 49x10x1 MFCC input, stride 2x2, with a non-square kernel option
  (10x4 as in DS-CNN, 8x4, 5x3, 4x2, 3x3) and a channel option;
* N depthwise-separable blocks (N from 1 to 8), each a depthwise kxk convolution (non-square
  options) and a pointwise 1x1 convolution with its own channel option;
* a full-size average pool, a 1x1 convolution classifier with 12 outputs and a ``Reshape``.

Convolutions use ``'same'`` padding (no PAD operators: Table 2 lists none for CNN-KWS) and
ReLU fused into the convolution. The TFLite graph has 4 + 2N operators, so 6 to 20 (the paper:
7 to 21). All choices are uniform and independent; :func:`sample` needs only numpy.
"""

from __future__ import annotations

__all__ = [
    "SPACE_NAMES",
    "FIRST_KERNELS",
    "DW_KERNELS",
    "CHANNELS",
    "DEPTHS",
    "sample",
    "build",
]

SPACE_NAMES = ("cnn-kws",)

INPUT_SHAPE = (49, 10, 1)
NUM_CLASSES = 12
FIRST_KERNELS = ((10, 4), (8, 4), (5, 3), (4, 2), (3, 3))
DW_KERNELS = ((3, 3), (5, 3), (3, 5), (5, 5), (7, 3))
CHANNELS = (32, 48, 64, 96, 128, 172, 224, 276)
DEPTHS = tuple(range(1, 9))


def _pick(rng, options):
    """Draws one option uniformly; tuples come back as lists (JSON-serialisable)."""
    value = options[int(rng.integers(len(options)))]
    if isinstance(value, tuple):
        return [int(v) for v in value]
    return int(value)


def sample(space, rng):
    """Draws the architecture choices of one keyword-spotting model.

    Args:
        space: ``"cnn-kws"``.
        rng: a ``numpy.random.Generator``.

    Returns:
        A JSON-serialisable dict with ``input_shape``, ``num_classes``, ``first``
        (``{"kernel": [kh, kw], "channels"}``) and ``blocks`` (a list of the same).
        The per-block choices are drawn for all 8 possible blocks, then truncated to the
        sampled depth, so the number of random draws does not depend on the depth.
    """
    if space not in SPACE_NAMES:
        raise ValueError(space)
    first = {"kernel": _pick(rng, FIRST_KERNELS), "channels": _pick(rng, CHANNELS)}
    blocks = [
        {"kernel": _pick(rng, DW_KERNELS), "channels": _pick(rng, CHANNELS)}
        for _ in range(max(DEPTHS))
    ]
    depth = _pick(rng, DEPTHS)
    return {
        "input_shape": list(INPUT_SHAPE),
        "num_classes": NUM_CLASSES,
        "first": first,
        "blocks": blocks[:depth],
    }


def build(config, name="kws"):
    """Builds the Keras DS-CNN of a sampled configuration (weights left at initialisation).

    Args:
        config: a dict from :func:`sample`.
        name: the Keras model name; layers get fixed names so conversion is reproducible.

    Returns:
        A ``tf_keras.Model`` with batch size 1, input 49x10x1, 12 logits.
    """
    import tf_keras
    from tf_keras import layers

    inputs = layers.Input(shape=tuple(config["input_shape"]), batch_size=1, name="input")
    first = config["first"]
    x = layers.Conv2D(
        first["channels"], tuple(first["kernel"]), strides=(2, 2), padding="same",
        activation="relu", name="conv1",
    )(inputs)
    for i, block in enumerate(config["blocks"]):
        x = layers.DepthwiseConv2D(
            tuple(block["kernel"]), padding="same", activation="relu", name="ds{}_dw".format(i)
        )(x)
        x = layers.Conv2D(
            block["channels"], 1, activation="relu", name="ds{}_pw".format(i)
        )(x)
    x = layers.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="pool")(x)
    x = layers.Conv2D(config["num_classes"], 1, name="classifier")(x)
    outputs = layers.Reshape((config["num_classes"],), name="logits")(x)
    return tf_keras.Model(inputs, outputs, name=name)
