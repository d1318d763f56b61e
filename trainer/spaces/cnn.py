"""CNN design spaces for image classification: ``cnn-imagenet`` and ``cnn-cifar10``.

The space follows PerfSAGE §3.2 (inspired by EfficientNet-EdgeTPU): a stem convolution, then
blocks of 5 *nodes*, then a head. Every node independently picks

* an operation: inverted bottleneck (``mbconv``: 1x1 expand, depthwise kxk, 1x1 project),
  fused inverted bottleneck (``fused``: kxk expand, 1x1 project) or ``identity``;
* its output channels, from the 6 options of its block;
* a kernel size, 3 or 5;
* an expansion ratio, 4 or 8 (ignored by ``identity``).

Every block picks an optional residual connection. The first node of a block carries the
block's stride (EfficientNet's pattern); a strided kxk convolution is written as
``ZeroPadding2D`` + ``'valid'`` convolution like TensorFlow's EfficientNet, so TFLite graphs
carry explicit PAD operators (symmetric padding, which the converter cannot fold into the
convolution). An ``identity`` node that must change the shape (stride or
channels) becomes a 1x1 projection convolution, so every sample is a valid model.

The block residual adds the output of the block's first node to the block's output (a 1x1
projection on the shortcut when their channels differ); it is skipped when every later node
is an identity. The head is a 1x1 convolution, a full-size ``AveragePooling2D`` and a 1x1
convolution classifier followed by a ``Reshape``: Table 2 of the paper lists CONV_2D,
DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, PAD, ADD and RESHAPE for the CNN spaces and no
FULLY_CONNECTED, which is what a 1x1-convolution classifier gives. Activations are ReLU,
fused into the convolutions by the TFLite converter; there is no batch normalisation (the
converter would fold it into the convolution weights anyway).

``cnn-cifar10`` uses the same building blocks with 3 blocks, a stride-1 stem on 32x32x3 inputs,
channel options divided by 3 and 10 classes.

Sampling (:func:`sample`) needs only numpy; :func:`build` imports ``tf_keras`` lazily.
"""

from __future__ import annotations

__all__ = ["SPACE_NAMES", "OPS", "KERNELS", "EXPANSIONS", "NODES_PER_BLOCK", "sample", "build"]

SPACE_NAMES = ("cnn-cifar10", "cnn-imagenet")

OPS = ("mbconv", "fused", "identity")
KERNELS = (3, 5)
EXPANSIONS = (4, 8)
NODES_PER_BLOCK = 5

# Six channel options per block, around EfficientNet-EdgeTPU-S widths (x0.5 .. x1.5).
_IMAGENET_CHANNELS = (
    (16, 24, 32, 40, 48, 64),
    (24, 32, 40, 48, 56, 64),
    (32, 40, 48, 56, 64, 80),
    (64, 80, 96, 112, 128, 144),
    (96, 112, 128, 144, 160, 176),
    (128, 144, 160, 176, 192, 224),
)
_IMAGENET_STRIDES = (1, 2, 2, 2, 1, 2)

_SETTINGS = {
    "cnn-imagenet": {
        "input_shape": (224, 224, 3),
        "num_classes": 1000,
        "stem_channels": 32,
        "stem_stride": 2,
        "head_channels": 1280,
        "channels": _IMAGENET_CHANNELS,
        "strides": _IMAGENET_STRIDES,
    },
    # Same building blocks, 3 blocks, channel options of ImageNet blocks 2, 4 and 6 divided by 3.
    "cnn-cifar10": {
        "input_shape": (32, 32, 3),
        "num_classes": 10,
        "stem_channels": 32 // 3,
        "stem_stride": 1,
        "head_channels": 1280 // 3,
        "channels": tuple(
            tuple(max(4, int(round(c / 3.0))) for c in _IMAGENET_CHANNELS[i]) for i in (1, 3, 5)
        ),
        "strides": (1, 2, 2),
    },
}


def _pick(rng, options):
    """Draws one option uniformly; returns a plain Python value (JSON-serialisable)."""
    value = options[int(rng.integers(len(options)))]
    return value.item() if hasattr(value, "item") else value


def sample(space, rng):
    """Draws the architecture choices of one model.

    Args:
        space: ``"cnn-imagenet"`` or ``"cnn-cifar10"``.
        rng: a ``numpy.random.Generator``; every choice is uniform and independent.

    Returns:
        A JSON-serialisable dict: fixed settings (input shape, classes, stem, head) and
        ``blocks``, a list of ``{"stride", "residual", "nodes": [{"op", "channels", "kernel",
        "expansion"}, ...]}``.
    """
    settings = _SETTINGS[space]
    blocks = []
    for options, stride in zip(settings["channels"], settings["strides"]):
        nodes = []
        for _ in range(NODES_PER_BLOCK):
            nodes.append(
                {
                    "op": _pick(rng, OPS),
                    "channels": _pick(rng, options),
                    "kernel": _pick(rng, KERNELS),
                    "expansion": _pick(rng, EXPANSIONS),
                }
            )
        blocks.append({"stride": stride, "residual": bool(rng.integers(2)), "nodes": nodes})
    return {
        "input_shape": list(settings["input_shape"]),
        "num_classes": settings["num_classes"],
        "stem_channels": settings["stem_channels"],
        "stem_stride": settings["stem_stride"],
        "head_channels": settings["head_channels"],
        "blocks": blocks,
    }


def _correct_pad(size, kernel):
    """Symmetric padding ``k // 2`` on both sides before a stride-2 'valid' convolution.

    This halves an even ``size`` (rounding up an odd one) like 'same' padding does, but it is
    not TensorFlow's 'same' split (which puts the extra row at the bottom), so the TFLite
    converter cannot fold it into the convolution and the graph keeps an explicit PAD, as in
    the paper's Table 2. (Keras EfficientNet's ``correct_pad`` equals 'same' for even sizes
    and gets folded away by TensorFlow 2.21's converter.)
    """
    del size  # same padding for every input size; kept for the call sites' symmetry
    half = kernel // 2
    return (half, half)


def _conv(layers, x, channels, kernel, stride, name, relu=True):
    """kxk convolution; a strided one gets explicit zero padding and 'valid' padding."""
    if stride > 1 and kernel > 1:
        pad = _correct_pad(int(x.shape[1]), kernel)
        pad_w = _correct_pad(int(x.shape[2]), kernel)
        x = layers.ZeroPadding2D((pad, pad_w), name=name + "_pad")(x)
        padding = "valid"
    else:
        padding = "same" if kernel > 1 else "valid"
    return layers.Conv2D(
        channels, kernel, strides=stride, padding=padding,
        activation="relu" if relu else None, name=name,
    )(x)


def _depthwise(layers, x, kernel, stride, name):
    """Depthwise kxk convolution with ReLU, padded like :func:`_conv`."""
    if stride > 1:
        pad = _correct_pad(int(x.shape[1]), kernel)
        pad_w = _correct_pad(int(x.shape[2]), kernel)
        x = layers.ZeroPadding2D((pad, pad_w), name=name + "_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    return layers.DepthwiseConv2D(
        kernel, strides=stride, padding=padding, activation="relu", name=name
    )(x)


def _node(layers, x, node, stride, name):
    """Applies one node; returns ``(output, applied)`` where ``applied`` is False for a no-op."""
    in_channels = int(x.shape[-1])
    out_channels = node["channels"]
    kernel = node["kernel"]
    if node["op"] == "identity":
        if stride == 1 and in_channels == out_channels:
            return x, False
        # An identity that must change the shape becomes a 1x1 projection.
        return _conv(layers, x, out_channels, 1, stride, name + "_proj", relu=False), True
    hidden = in_channels * node["expansion"]
    if node["op"] == "mbconv":
        x = _conv(layers, x, hidden, 1, 1, name + "_expand")
        x = _depthwise(layers, x, kernel, stride, name + "_dw")
    else:  # fused
        x = _conv(layers, x, hidden, kernel, stride, name + "_fused")
    return _conv(layers, x, out_channels, 1, 1, name + "_project", relu=False), True


def build(config, name="cnn"):
    """Builds the Keras model of a sampled configuration (weights left at initialisation).

    Args:
        config: a dict from :func:`sample`.
        name: the Keras model name; every layer gets a fixed name too, so the converted
            TFLite bytes do not depend on how many models this process built before.

    Returns:
        A ``tf_keras.Model`` with batch size 1 and a fixed input shape, outputting logits.
    """
    import tf_keras
    from tf_keras import layers

    inputs = layers.Input(shape=tuple(config["input_shape"]), batch_size=1, name="input")
    x = _conv(layers, inputs, config["stem_channels"], 3, config["stem_stride"], "stem")
    for b, block in enumerate(config["blocks"]):
        first = None
        changed_after_first = False
        for n, node in enumerate(block["nodes"]):
            stride = block["stride"] if n == 0 else 1
            x, applied = _node(layers, x, node, stride, "b{}n{}".format(b, n))
            if n == 0:
                first = x
            elif applied:
                changed_after_first = True
        if block["residual"] and changed_after_first:
            shortcut = first
            if int(shortcut.shape[-1]) != int(x.shape[-1]):
                shortcut = _conv(
                    layers, shortcut, int(x.shape[-1]), 1, 1, "b{}_skip".format(b), relu=False
                )
            x = layers.Add(name="b{}_add".format(b))([x, shortcut])
    x = _conv(layers, x, config["head_channels"], 1, 1, "head")
    x = layers.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])), name="pool")(x)
    x = layers.Conv2D(config["num_classes"], 1, name="classifier")(x)
    outputs = layers.Reshape((config["num_classes"],), name="logits")(x)
    return tf_keras.Model(inputs, outputs, name=name)
