"""Non-image families: ``kws`` (MFCC inputs), ``dense`` (vectors) and ``conv1d`` (signals).

* ``kws``: keyword spotting on MFCC/spectrogram maps (49x10, 49x40, 98x40): DS-CNN (a
  non-square first convolution, depthwise-separable blocks), a small CNN with non-square
  kernels, pooling and dense layers (cnn-trad style), or a 1-D temporal ResNet over the frames
  with the coefficients as channels (TC-ResNet style).
* ``dense``: FULLY_CONNECTED stacks: the MLPerf Tiny anomaly-detection autoencoder
  (640 -> hidden -> bottleneck -> hidden -> 640, optional BatchNorm) and MLP classifiers.
  For an autoencoder ``num_classes`` is the reconstructed width.
* ``conv1d``: 1-D convolution nets on audio and time series: M5-style raw-audio nets
  (a long first kernel of 40-80 taps with stride 4-8, then 3-tap convolutions and pooling),
  dilated TCNs (causal or 'same' padding, residual blocks) and 1-D ResNets.
"""

from __future__ import annotations

from . import blocks
from .common import chance, num_classes, pick

__all__ = ["SAMPLERS", "BUILDERS", "KWS_INPUTS", "SIGNAL_INPUTS"]

KWS_INPUTS = ((49, 10, 1), (49, 40, 1), (98, 40, 1))
SIGNAL_INPUTS = ((128, 9), (256, 6), (1024, 3), (2048, 1))
AUDIO_INPUTS = ((8000, 1), (16000, 1))


def sample_kws(rng):
    """KWS: input map, classes, style (dscnn/cnn/tc), and that style's kernels and widths."""
    style = pick(rng, ("dscnn", "cnn", "tc"))
    config = {"input_shape": pick(rng, KWS_INPUTS), "input_kind": "mfcc",
              "num_classes": pick(rng, (10, 12, 35)), "style": style}
    if style == "dscnn":
        config.update(first_kernel=pick(rng, ((10, 4), (8, 4), (5, 3), (3, 3))),
                      first_stride=pick(rng, ((2, 2), (2, 1), (1, 1))),
                      channels=pick(rng, (64, 96, 128, 172, 276)),
                      dw_kernels=[pick(rng, ((3, 3), (5, 3), (3, 5), (5, 5)))
                                  for _ in range(pick(rng, (2, 3, 4, 5, 6)))])
    elif style == "cnn":
        config.update(kernels=[pick(rng, ((20, 8), (10, 4), (8, 4), (5, 3), (3, 3)))
                               for _ in range(pick(rng, (2, 3)))],
                      channels=pick(rng, (28, 32, 48, 64)),
                      pools=pick(rng, ((2, 2), (1, 3), (2, 1))),
                      hidden=pick(rng, (0, 32, 64, 128)))
    else:
        config.update(width=pick(rng, (0.5, 1.0, 1.5, 2.0)), kernel=pick(rng, (3, 5, 9)),
                      blocks=pick(rng, (2, 3, 4, 6)))
    config["softmax"] = chance(rng, 0.5)
    return config


def _end(x, config, nm):
    from tf_keras import layers

    x = layers.Dense(config["num_classes"], name=nm("logits"))(x)
    if config.get("softmax"):
        x = layers.Softmax(name=nm("softmax"))(x)
    return x


def _res1d(x, channels, kernel, stride, nm, prefix, dilation=1, padding="same"):
    """Two Conv1D (their BatchNorms would fold, so none) + residual ADD, 1x1 projection if
    the shape changes."""
    from tf_keras import layers

    shortcut = x
    if stride != 1 or int(x.shape[-1]) != channels:
        shortcut = layers.Conv1D(channels, 1, strides=stride, name=nm(prefix + "_proj"))(x)
    y = layers.Conv1D(channels, kernel, strides=stride, padding=padding, dilation_rate=dilation,
                      activation="relu", name=nm(prefix + "_conv0"))(x)
    y = layers.Conv1D(channels, kernel, padding=padding, dilation_rate=dilation,
                      name=nm(prefix + "_conv1"))(y)
    return blocks.act(layers.Add(name=nm(prefix + "_add"))([shortcut, y]), "relu", nm)


def _body_kws(x, config, nm):
    from tf_keras import layers

    style = config["style"]
    if style == "dscnn":
        x = blocks.conv(x, config["channels"], tuple(config["first_kernel"]), nm,
                        tuple(config["first_stride"]), "relu", bn=True, base="conv1")
        for i, kernel in enumerate(config["dw_kernels"]):
            x = blocks.dwconv(x, tuple(kernel), nm, 1, "relu", bn=True, base="ds{}_dw".format(i))
            x = blocks.conv(x, config["channels"], 1, nm, act_kind="relu", bn=True,
                            base="ds{}_pw".format(i))
        x = layers.AveragePooling2D((int(x.shape[1]), int(x.shape[2])), name=nm("pool"))(x)
        x = layers.Flatten(name=nm("flatten"))(x)
    elif style == "cnn":
        for i, kernel in enumerate(config["kernels"]):
            x = blocks.conv(x, config["channels"], tuple(kernel), nm, act_kind="relu",
                            base="conv{}".format(i))
            pool = tuple(min(p, int(s)) for p, s in zip(config["pools"], x.shape[1:3]))
            x = layers.MaxPooling2D(pool, name=nm("pool{}".format(i)))(x)
        if int(x.shape[1]) * int(x.shape[2]) * int(x.shape[3]) > 4096:
            x = layers.GlobalAveragePooling2D(name=nm("gap"))(x)
        else:
            x = layers.Flatten(name=nm("flatten"))(x)
        if config["hidden"]:
            x = blocks.act(layers.Dense(config["hidden"], name=nm("fc_hidden"))(x), "relu", nm)
    else:
        frames, coeffs = int(x.shape[1]), int(x.shape[2])
        x = layers.Reshape((frames, coeffs), name=nm("to_frames"))(x)
        width = config["width"]
        x = layers.Conv1D(int(16 * width), 3, padding="same", name=nm("stem"))(x)
        for b in range(config["blocks"]):
            channels = int(round(width * (24, 32, 48)[min(2, b // 2)]))
            x = _res1d(x, channels, config["kernel"], 2 if b % 2 == 0 else 1, nm,
                       "b{}".format(b))
        x = layers.GlobalAveragePooling1D(name=nm("gap"))(x)
    return _end(x, config, nm)


def sample_dense(rng):
    """Dense: autoencoder (input 320-1280, hidden width/depth, bottleneck, BN) or MLP."""
    style = pick(rng, ("autoencoder", "mlp"))
    if style == "autoencoder":
        dim = pick(rng, (320, 640, 640, 1280))
        return {"input_shape": [dim], "input_kind": "vector", "num_classes": dim,
                "style": style, "hidden": [pick(rng, (64, 128, 256))] * pick(rng, (1, 2, 3, 4)),
                "bottleneck": pick(rng, (8, 16, 32)), "bn": chance(rng, 0.5), "act": "relu",
                "softmax": False}
    return {"input_shape": [pick(rng, (16, 32, 64, 128, 256, 561, 784, 1024))],
            "input_kind": "vector", "num_classes": num_classes(rng), "style": style,
            "hidden": [pick(rng, (32, 64, 128, 256, 512, 1024))
                       for _ in range(pick(rng, (1, 2, 3, 4, 5)))],
            "bn": chance(rng, 0.3), "act": pick(rng, ("relu", "relu6", "tanh")),
            "softmax": chance(rng, 0.5)}


def _body_dense(x, config, nm):
    from tf_keras import layers

    def fc(x, width, act_kind=None):
        x = layers.Dense(int(width), name=nm("fc"))(x)
        if config["bn"] and act_kind:
            x = blocks.batch_norm(x, nm)
        return blocks.act(x, act_kind, nm)

    for width in config["hidden"]:
        x = fc(x, width, config["act"])
    if config["style"] == "autoencoder":
        x = fc(x, config["bottleneck"], config["act"])
        for width in reversed(config["hidden"]):
            x = fc(x, width, config["act"])
        return fc(x, config["num_classes"])
    return _end(x, config, nm)


def sample_conv1d(rng):
    """1-D nets: M5 audio (first kernel/stride, widths, stages), TCN (kernel, dilations,
    causal), ResNet-1D (kernel, blocks, width)."""
    style = pick(rng, ("m5", "tcn", "resnet1d"))
    if style == "m5":
        config = {"input_shape": pick(rng, AUDIO_INPUTS), "num_classes": pick(rng, (10, 12, 35)),
                  "first_kernel": pick(rng, (40, 64, 80)), "first_stride": pick(rng, (4, 8)),
                  "channels": pick(rng, (32, 64, 128)), "stages": pick(rng, (2, 3, 4))}
    elif style == "tcn":
        config = {"input_shape": pick(rng, SIGNAL_INPUTS), "num_classes": num_classes(rng, 100),
                  "kernel": pick(rng, (2, 3, 5, 7)), "channels": pick(rng, (16, 24, 32, 64)),
                  "levels": pick(rng, (2, 3, 4, 5, 6)), "causal": chance(rng, 0.5)}
    else:
        config = {"input_shape": pick(rng, SIGNAL_INPUTS), "num_classes": num_classes(rng, 100),
                  "kernel": pick(rng, (3, 5, 7)), "channels": pick(rng, (16, 32, 64)),
                  "blocks": pick(rng, (2, 3, 4, 5, 6))}
    config.update(input_kind="signal", style=style, softmax=chance(rng, 0.5))
    return config


def _body_conv1d(x, config, nm):
    from tf_keras import layers

    style, channels = config["style"], config["channels"]
    if style == "m5":
        x = layers.Conv1D(channels, config["first_kernel"], strides=config["first_stride"],
                          activation="relu", name=nm("conv0"))(x)
        x = layers.MaxPooling1D(4, name=nm("pool0"))(x)
        for s in range(config["stages"]):
            width = channels * (2 if s >= 1 else 1) * (2 if s >= 3 else 1)
            x = layers.Conv1D(width, 3, padding="same", activation="relu",
                              name=nm("conv{}".format(s + 1)))(x)
            if int(x.shape[1]) >= 8:
                x = layers.MaxPooling1D(4, name=nm("pool{}".format(s + 1)))(x)
    elif style == "tcn":
        padding = "causal" if config["causal"] else "same"
        for level in range(config["levels"]):
            x = _res1d(x, channels, config["kernel"], 1, nm, "t{}".format(level),
                       dilation=2 ** level, padding=padding)
    else:
        x = layers.Conv1D(channels, 7, strides=2, padding="same", name=nm("stem"))(x)
        x = layers.MaxPooling1D(3, strides=2, padding="same", name=nm("stem_pool"))(x)
        for b in range(config["blocks"]):
            stride = 2 if b % 2 == 1 else 1
            x = _res1d(x, channels * 2 ** ((b + 1) // 2), config["kernel"], stride, nm,
                       "b{}".format(b))
    x = layers.GlobalAveragePooling1D(name=nm("gap"))(x)
    return _end(x, config, nm)


SAMPLERS = {"kws": sample_kws, "dense": sample_dense, "conv1d": sample_conv1d}
BUILDERS = {"kws": _body_kws, "dense": _body_dense, "conv1d": _body_conv1d}
