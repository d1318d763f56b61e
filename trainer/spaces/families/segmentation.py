"""Encoder-decoder family ``unet``: U-Net and FPN-style segmentation networks.

An encoder of 2-4 downsampling levels (max pooling or strided convolutions, plain or
depthwise-separable convolutions, 1-2 per level, channels doubling from a base of 8-48) and a
decoder that upsamples back to the input resolution with ``Conv2DTranspose`` (TRANSPOSE_CONV)
or ``UpSampling2D`` (RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR), merging the encoder feature of
the same resolution by CONCATENATION (U-Net) or by a 1x1 lateral convolution and ADD (FPN).
The head is a per-pixel 1x1 convolution to 1-21 classes, optionally followed by a per-pixel
softmax or sigmoid: the output is ``(1, H, W, classes)``, not a vector.
"""

from __future__ import annotations

from . import blocks
from .common import chance, image_resolution, pick

__all__ = ["SAMPLERS", "BUILDERS", "SEG_CLASSES"]

SEG_CLASSES = (1, 2, 3, 5, 8, 12, 21)


def sample_unet(rng):
    """U-Net/FPN: resolution, input channels, levels, base width, convolution style,
    downsampling, merge (concat/add), upsampling (transpose/nearest/bilinear), head."""
    size = image_resolution(rng, 64, 224)
    base = pick(rng, (8, 16, 24, 32, 48) if size <= 128 else (8, 12, 16, 24))
    return {
        "input_shape": [size, size, pick(rng, (1, 3, 3))],
        "input_kind": "image",
        "num_classes": pick(rng, SEG_CLASSES),
        "levels": pick(rng, (2, 3, 4)),
        "base": base,
        "convs": pick(rng, (1, 2)),
        "separable": chance(rng, 0.3),
        "down": pick(rng, ("maxpool", "strided")),
        "merge": pick(rng, ("concat", "concat", "add")),
        "up": pick(rng, ("transpose", "nearest", "bilinear")),
        "output_act": pick(rng, ("linear", "softmax", "sigmoid")),
    }


def _conv_stack(x, channels, config, nm, prefix):
    for i in range(config["convs"]):
        if config["separable"]:
            x = blocks.sep_conv(x, channels, 3, nm, act_kind="relu")
        else:
            x = blocks.conv(x, channels, 3, nm, act_kind="relu", base="{}_conv{}".format(prefix, i))
    return x


def _upsample(x, channels, config, nm, prefix):
    from tf_keras import layers

    if config["up"] == "transpose":
        x = layers.Conv2DTranspose(channels, 2, strides=2, padding="same",
                                   name=nm(prefix + "_tconv"))(x)
        return blocks.act(x, "relu", nm)
    x = layers.UpSampling2D(2, interpolation=config["up"], name=nm(prefix + "_up"))(x)
    return blocks.conv(x, channels, 1 if config["merge"] == "add" else 3, nm, act_kind="relu",
                       base=prefix + "_upconv")


def _body_unet(x, config, nm):
    from tf_keras import layers

    base = config["base"]
    skips = []
    for level in range(config["levels"]):
        x = _conv_stack(x, base * 2 ** level, config, nm, "enc{}".format(level))
        skips.append(x)
        if config["down"] == "maxpool":
            x = layers.MaxPooling2D(2, name=nm("enc{}_pool".format(level)))(x)
        else:
            x = blocks.conv(x, base * 2 ** level, 3, nm, 2, "relu",
                            base="enc{}_down".format(level))
    x = _conv_stack(x, base * 2 ** config["levels"], config, nm, "bottom")
    for level in reversed(range(config["levels"])):
        channels = base * 2 ** level
        prefix = "dec{}".format(level)
        x = _upsample(x, channels, config, nm, prefix)
        skip = skips[level]
        if config["merge"] == "concat":
            x = layers.Concatenate(name=nm(prefix + "_concat"))([x, skip])
            x = _conv_stack(x, channels, config, nm, prefix)
        else:
            lateral = blocks.conv(skip, channels, 1, nm, base=prefix + "_lateral")
            x = layers.Add(name=nm(prefix + "_add"))([x, lateral])
            x = blocks.conv(x, channels, 3, nm, act_kind="relu", base=prefix + "_smooth")
    x = layers.Conv2D(config["num_classes"], 1, name=nm("seg_head"))(x)
    if config["output_act"] == "softmax":
        x = layers.Softmax(name=nm("softmax"))(x)
    elif config["output_act"] == "sigmoid":
        x = blocks.act(x, "sigmoid", nm)
    return x


SAMPLERS = {"unet": sample_unet}
BUILDERS = {"unet": _body_unet}
