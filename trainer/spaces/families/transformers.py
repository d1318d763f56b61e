"""Vision-transformer family ``vit``: ViT/DeiT-style encoders as Keras code writes them.

A model is an optional hybrid convolution stem (1-2 strided 3x3 convolutions), a patch
embedding (``Conv2D`` with kernel = stride = patch size) reshaped to tokens, a learned position
embedding with (ViT/DeiT) or without a class token, 1-8 pre-norm encoder layers and a final
``LayerNormalization``, the class token or the token mean (MEAN), a dense classifier.

Unlike :mod:`trainer.spaces.vit`, which writes LayerNorm and GELU out of plain operations, this
family uses the stock Keras layers: ``tf_keras.layers.LayerNormalization`` (TensorFlow 2.21
converts it to MEAN, SQUARED_DIFFERENCE, ADD, RSQRT, MUL, SUB pieces) and ``tf.nn.gelu`` with
``approximate`` True or False (one GELU builtin either way). Attention is either
``tf_keras.layers.MultiHeadAttention`` (FULLY_CONNECTED projections, RESHAPE/TRANSPOSE,
BATCH_MATMUL, SOFTMAX) or the explicit per-head / batched attention of
:mod:`trainer.spaces.vit`, whose token and attention layers are reused here.
"""

from __future__ import annotations

from . import blocks
from .common import num_classes, pick, pick_weighted

__all__ = ["SAMPLERS", "BUILDERS", "EMBED_DIMS", "ATTENTION"]

IMAGE_SIZES = (32, 48, 64, 96, 128, 160, 224)
IMAGE_WEIGHTS = (0.25, 0.1, 0.2, 0.15, 0.1, 0.1, 0.1)
PATCH_SIZES = (2, 4, 7, 8, 14, 16, 32)
EMBED_DIMS = (64, 96, 128, 192, 256, 384)
HEADS = (1, 2, 3, 4, 6, 8)
ATTENTION = ("keras", "batched", "split")
MAX_TOKENS = 256
#: Encoder depths 1-8, leaning shallow: conversion time grows by ~0.6 s per encoder layer.
DEPTHS = tuple(range(1, 9))
DEPTH_WEIGHTS = (3, 3, 3, 2, 2, 1, 1, 1)


def sample_vit(rng):
    """ViT/DeiT: image size, hybrid stem (0-2 convs), patch size (4-256 tokens), embed dim,
    heads (dividing it), depth 1-8, MLP ratio, attention kind, GELU kind, pooling, classes."""
    size = pick_weighted(rng, IMAGE_SIZES, IMAGE_WEIGHTS)
    stem = pick(rng, (0, 0, 1, 2))
    grid = size // 2 ** stem
    patches = [p for p in PATCH_SIZES
               if grid % p == 0 and 4 <= (grid // p) ** 2 <= MAX_TOKENS]
    if not patches:
        stem, grid = 0, size
        patches = [p for p in PATCH_SIZES if size % p == 0 and 4 <= (size // p) ** 2 <= MAX_TOKENS]
    embed = pick(rng, EMBED_DIMS)
    return {
        "input_shape": [size, size, 3],
        "input_kind": "image",
        "num_classes": num_classes(rng),
        "stem_convs": stem,
        "patch_size": pick(rng, patches),
        "embed_dim": embed,
        "num_heads": pick(rng, [h for h in HEADS if embed % h == 0]),
        "depth": pick_weighted(rng, DEPTHS, DEPTH_WEIGHTS),
        "mlp_ratio": pick(rng, (2, 3, 4)),
        "attention": pick(rng, ATTENTION),
        "gelu": pick(rng, ("gelu", "gelu_tanh")),
        "pool": pick(rng, ("cls", "cls", "gap")),
        "softmax": bool(rng.random() < 0.5),
    }


def _pos_embed_class():
    import tf_keras

    class PosEmbed(tf_keras.layers.Layer):
        """Adds a learned position embedding (no class token)."""

        def build(self, input_shape):
            tokens, dim = int(input_shape[1]), int(input_shape[2])
            self.pos_embed = self.add_weight(name="pos_embed", shape=(1, tokens, dim))

        def call(self, x):
            return x + self.pos_embed

    return PosEmbed


def _attention(y, config, nm, prefix):
    from tf_keras import layers

    from trainer.spaces.vit import _layer_classes

    dim, heads = config["embed_dim"], config["num_heads"]
    if config["attention"] == "keras":
        mha = layers.MultiHeadAttention(heads, dim // heads, name=nm(prefix + "_mha"))
        return mha(y, y)
    self_attention = _layer_classes()[3]
    return self_attention(dim, heads, dim // heads, config["attention"] == "split",
                          name=nm(prefix + "_attn"))(y)


def _body_vit(x, config, nm):
    from tf_keras import layers

    from trainer.spaces.vit import _layer_classes

    dim = config["embed_dim"]
    for i in range(config["stem_convs"]):
        x = blocks.conv(x, min(dim, 32 * 2 ** i), 3, nm, 2, "relu", base="stem{}".format(i))
    patch = config["patch_size"]
    x = layers.Conv2D(dim, patch, strides=patch, name=nm("patch_embed"))(x)
    tokens = int(x.shape[1]) * int(x.shape[2])
    x = layers.Reshape((tokens, dim), name=nm("to_tokens"))(x)
    _, _, token_embed, _, class_token = _layer_classes()
    if config["pool"] == "cls":
        x = token_embed(name=nm("tokens"))(x)
    else:
        x = _pos_embed_class()(name=nm("pos"))(x)
    for i in range(config["depth"]):
        prefix = "l{}".format(i)
        y = layers.LayerNormalization(epsilon=1e-6, name=nm(prefix + "_ln1"))(x)
        y = _attention(y, config, nm, prefix)
        x = layers.Add(name=nm(prefix + "_add1"))([x, y])
        y = layers.LayerNormalization(epsilon=1e-6, name=nm(prefix + "_ln2"))(x)
        y = layers.Dense(dim * config["mlp_ratio"], name=nm(prefix + "_fc1"))(y)
        y = blocks.act(y, config["gelu"], nm)
        y = layers.Dense(dim, name=nm(prefix + "_fc2"))(y)
        x = layers.Add(name=nm(prefix + "_add2"))([x, y])
    x = layers.LayerNormalization(epsilon=1e-6, name=nm("ln_final"))(x)
    if config["pool"] == "cls":
        x = class_token(name=nm("cls"))(x)
    else:
        x = layers.GlobalAveragePooling1D(name=nm("gap"))(x)
    x = layers.Dense(config["num_classes"], name=nm("logits"))(x)
    if config["softmax"]:
        x = layers.Softmax(name=nm("softmax"))(x)
    return x


SAMPLERS = {"vit": sample_vit}
BUILDERS = {"vit": _body_vit}
