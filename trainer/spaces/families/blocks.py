"""Keras building blocks shared by the convolutional families (``tf_keras`` imported lazily).

Every layer gets its name from a :class:`Namer`, which numbers repeated names in creation
order: a configuration always creates its layers in the same order, so the names, and with
them the converted TFLite bytes, never depend on what the process built before.

Activations are written the way Keras applications write them, so the INT8 converter emits
the same operators as for the real models: ReLU/ReLU6 fuse into the preceding convolution,
``x * relu6(x + 3) / 6`` becomes one HARD_SWISH, swish becomes LOGISTIC + MUL. BatchNorm
layers that the converter would fold into a convolution are left out (see :func:`conv`).
"""

from __future__ import annotations

__all__ = [
    "Namer",
    "act",
    "batch_norm",
    "conv",
    "dwconv",
    "sep_conv",
    "squeeze_excite",
    "classifier",
    "head",
    "make_model",
]


def _layers():
    import tf_keras

    return tf_keras.layers


class Namer:
    """Unique, deterministic layer names: ``base``, then ``base_1``, ``base_2``, ..."""

    def __init__(self):
        self._counts = {}

    def __call__(self, base):
        n = self._counts.get(base, 0)
        self._counts[base] = n + 1
        return base if n == 0 else "{}_{}".format(base, n)


_FUSABLE = {None: None, "linear": None, "relu": "relu", "relu6": "relu6", "swish": "swish",
            "sigmoid": "sigmoid", "tanh": "tanh"}


def _hard(kind):
    """``relu6(x + 3) / 6`` (hard sigmoid) or ``x * relu6(x + 3) / 6`` (hard swish)."""
    import tensorflow as tf

    if kind == "hsigmoid":
        return lambda t: tf.nn.relu6(t + 3.0) * (1.0 / 6.0)
    return lambda t: t * (tf.nn.relu6(t + 3.0) * (1.0 / 6.0))


def act(x, kind, nm):
    """Applies activation ``kind`` (None/'linear', relu, relu6, swish, sigmoid, tanh,
    hsigmoid, hswish, gelu, gelu_tanh)."""
    layers = _layers()
    if kind in (None, "linear"):
        return x
    if kind == "relu":
        return layers.ReLU(name=nm("relu"))(x)
    if kind == "relu6":
        return layers.ReLU(6.0, name=nm("relu6"))(x)
    if kind in ("swish", "sigmoid", "tanh"):
        return layers.Activation(kind, name=nm(kind))(x)
    if kind in ("hsigmoid", "hswish"):
        return layers.Activation(_hard(kind), name=nm(kind))(x)
    if kind in ("gelu", "gelu_tanh"):
        import tensorflow as tf

        approximate = kind == "gelu_tanh"
        return layers.Activation(
            lambda t: tf.nn.gelu(t, approximate=approximate), name=nm(kind)
        )(x)
    raise ValueError("unknown activation {!r}".format(kind))


def batch_norm(x, nm):
    """A BatchNormalization (folded into a preceding convolution, MUL/ADD otherwise)."""
    return _layers().BatchNormalization(epsilon=1e-3, name=nm("bn"))(x)


def _keras_pad(x, kernel, stride, nm):
    """ZeroPadding2D before a strided 'valid' convolution, as Keras applications do."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    h, w = int(x.shape[1]), int(x.shape[2])
    adjust = (1 - h % 2, 1 - w % 2)
    pad = ((max(0, kh // 2 - adjust[0]), kh // 2), (max(0, kw // 2 - adjust[1]), kw // 2))
    return _layers().ZeroPadding2D(pad, name=nm("pad"))(x)


def conv(x, filters, kernel, nm, stride=1, act_kind=None, groups=1, keras_pad=False,
         bn=False, dilation=1, base="conv"):
    """Conv2D (optionally grouped, strided with explicit padding) with its activation.

    ``bn=True`` marks a convolution that a real model follows with BatchNormalization: the
    converter folds such a BN into the convolution's weights and bias, so the layer is left
    out (the graph is the same, the Keras build is faster). Activations that TFLite fuses
    (ReLU, ReLU6) or that Keras accepts by name are passed to the layer itself.
    """
    layers = _layers()
    padding = "same"
    if keras_pad and stride > 1 and kernel not in (1, (1, 1), [1, 1]):
        x = _keras_pad(x, kernel, stride, nm)
        padding = "valid"
    fused = act_kind in _FUSABLE
    x = layers.Conv2D(
        int(filters), kernel, strides=stride, padding=padding, groups=int(groups),
        dilation_rate=dilation, activation=_FUSABLE.get(act_kind), name=nm(base),
    )(x)
    return x if fused else act(x, act_kind, nm)


def dwconv(x, kernel, nm, stride=1, act_kind=None, keras_pad=False, bn=False, base="dw"):
    """DepthwiseConv2D with its activation, optionally with Keras-style explicit padding
    (``bn`` as in :func:`conv`)."""
    layers = _layers()
    padding = "same"
    if keras_pad and stride > 1:
        x = _keras_pad(x, kernel, stride, nm)
        padding = "valid"
    fused = act_kind in _FUSABLE
    x = layers.DepthwiseConv2D(
        kernel, strides=stride, padding=padding, activation=_FUSABLE.get(act_kind),
        name=nm(base),
    )(x)
    return x if fused else act(x, act_kind, nm)


def sep_conv(x, filters, kernel, nm, stride=1, act_kind=None):
    """A SeparableConv2D layer (DEPTHWISE_CONV_2D + CONV_2D after conversion)."""
    x = _layers().SeparableConv2D(
        int(filters), kernel, strides=stride, padding="same", name=nm("sep")
    )(x)
    return act(x, act_kind, nm)


def squeeze_excite(x, squeeze, nm, inner="relu", gate="sigmoid", dense=False):
    """Squeeze-and-excitation: global pool, reduce, expand, gate, MUL with the input.

    Args:
        x: a 4-D tensor.
        squeeze: channels of the reduction.
        nm: the model's :class:`Namer`.
        inner: activation after the reduction.
        gate: 'sigmoid' (LOGISTIC) or 'hsigmoid'.
        dense: use Dense layers on the pooled vector (FULLY_CONNECTED) instead of 1x1
            convolutions on a 1x1 map (CONV_2D).
    """
    layers = _layers()
    channels = int(x.shape[-1])
    if dense:
        s = layers.GlobalAveragePooling2D(name=nm("se_pool"))(x)
        s = layers.Dense(int(squeeze), name=nm("se_reduce"))(s)
        s = act(s, inner, nm)
        s = layers.Dense(channels, name=nm("se_expand"))(s)
        s = act(s, gate, nm)
        s = layers.Reshape((1, 1, channels), name=nm("se_reshape"))(s)
    else:
        s = layers.GlobalAveragePooling2D(keepdims=True, name=nm("se_pool"))(x)
        s = layers.Conv2D(int(squeeze), 1, name=nm("se_reduce"))(s)
        s = act(s, inner, nm)
        s = layers.Conv2D(channels, 1, name=nm("se_expand"))(s)
        s = act(s, gate, nm)
    return layers.Multiply(name=nm("se_mul"))([x, s])


def classifier(x, num_classes, nm, head="gap_dense", hidden=0, hidden_act="relu",
               softmax=False):
    """A classification head on a 4-D feature map.

    Args:
        head: 'gap_dense' (GlobalAveragePooling2D + Dense), 'gap_conv' (pooled 1x1 map,
            1x1 convolutions and a Reshape, as Keras MobileNets) or 'pool_conv' (a full-size
            AveragePooling2D instead of the global pool).
        hidden: width of an extra hidden layer before the logits (0 for none).
        softmax: end with a Softmax layer (SOFTMAX).
    """
    layers = _layers()
    if head == "gap_dense":
        x = layers.GlobalAveragePooling2D(name=nm("gap"))(x)
        if hidden:
            x = act(layers.Dense(int(hidden), name=nm("fc_hidden"))(x), hidden_act, nm)
        x = layers.Dense(int(num_classes), name=nm("logits"))(x)
    elif head in ("gap_conv", "pool_conv"):
        if head == "gap_conv":
            x = layers.GlobalAveragePooling2D(keepdims=True, name=nm("gap"))(x)
        else:
            size = (int(x.shape[1]), int(x.shape[2]))
            x = layers.AveragePooling2D(pool_size=size, name=nm("pool"))(x)
        if hidden:
            x = act(layers.Conv2D(int(hidden), 1, name=nm("conv_hidden"))(x), hidden_act, nm)
        x = layers.Conv2D(int(num_classes), 1, name=nm("logits"))(x)
        x = layers.Reshape((int(num_classes),), name=nm("flatten"))(x)
    else:
        raise ValueError("unknown head {!r}".format(head))
    if softmax:
        x = layers.Softmax(name=nm("softmax"))(x)
    return x


def head(x, config, nm, hidden_act="relu"):
    """The classifier a config's ``head``, ``head_hidden`` and ``softmax`` keys describe."""
    return classifier(x, config["num_classes"], nm, config["head"], config["head_hidden"],
                      hidden_act, config["softmax"])


def make_model(config, name, body):
    """A batch-1 ``tf_keras.Model`` from ``body(inputs, config, nm) -> outputs``."""
    import tf_keras

    nm = Namer()
    inputs = _layers().Input(shape=tuple(config["input_shape"]), batch_size=1, name="input")
    return tf_keras.Model(inputs, body(inputs, config, nm), name=name)
