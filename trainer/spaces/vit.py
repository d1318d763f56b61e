"""Vision-transformer design space ``vit-cifar100`` (PerfSAGE §3.2).

A model on 32x32x3 images is

* a patch embedding: a ``Conv2D`` with kernel = stride = patch size (2 or 4) to the embedding
  dimension, and a ``Reshape`` to tokens;
* a class token (CONCATENATION) and a learned position embedding (ADD);
* ``depth`` (1 to 12) pre-norm encoder layers, each choosing its number of heads, its per-head
  query/key/value dimension and its MLP ratio: LayerNorm, multi-head self-attention, residual
  ADD, LayerNorm, MLP with tanh-approximated GELU, residual ADD;
* a final LayerNorm, the class token taken out with a STRIDED_SLICE, a 100-way dense layer.

Everything is written with plain TensorFlow ops inside named ``tf_keras`` layers so that
full-integer (INT8) conversion maps each piece to an INT8 TFLite builtin:

* LayerNorm is MEAN, SUB, MUL, MEAN, ADD, RSQRT, MUL, MUL, ADD (no fused kernel exists);
* attention projects Q, K and V with one FULLY_CONNECTED each, then, by a per-model choice
  (``attention``), either

  - ``"split"``: per head, STRIDED_SLICE of Q, K and V, BATCH_MATMUL, SOFTMAX, BATCH_MATMUL,
    and a CONCATENATION of the heads (the operator count grows with the heads), or
  - ``"batched"``: RESHAPE + TRANSPOSE to (1, heads, tokens, dim), one 4-D BATCH_MATMUL,
    SOFTMAX, BATCH_MATMUL, TRANSPOSE + RESHAPE back (what Keras/HF-style code converts to);

  the two together cover the paper's Table 2 operator set and its operator-count range;
* GELU is written as ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` with x^3 as MULs;
  TensorFlow 2.21's converter recognises the pattern and emits one GELU builtin (INT8).
  Table 2 lists POW and TANH because older converters left it decomposed; a POW would
  not even be INT8 (TFLite's POW has no INT8 kernel).

Operator counts after conversion: about ``15 + depth * (16 + 7 heads)`` with split heads
(measured: depth 12 with 8 heads gives 879, the space's maximum) and fewer with batched heads;
the paper's range is 59-994, so our largest ViTs stay below the paper's. All choices are uniform
and independent; :func:`sample` needs only numpy.
"""

from __future__ import annotations

__all__ = [
    "SPACE_NAMES",
    "PATCH_SIZES",
    "EMBED_DIMS",
    "DEPTHS",
    "NUM_HEADS",
    "HEAD_DIMS",
    "MLP_RATIOS",
    "ATTENTION",
    "sample",
    "build",
]

SPACE_NAMES = ("vit-cifar100",)

INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 100
PATCH_SIZES = (2, 4)
EMBED_DIMS = (128, 192, 256, 320, 384, 448, 512)
DEPTHS = tuple(range(1, 13))
NUM_HEADS = (1, 2, 4, 6, 8)
HEAD_DIMS = (16, 32, 48, 64)
MLP_RATIOS = (1, 2, 3, 4)
ATTENTION = ("split", "batched")
LN_EPSILON = 1e-6


def _pick(rng, options):
    """Draws one option uniformly as a plain int."""
    return int(options[int(rng.integers(len(options)))])


def sample(space, rng):
    """Draws the architecture choices of one vision transformer.

    Args:
        space: ``"vit-cifar100"``.
        rng: a ``numpy.random.Generator``.

    Returns:
        A JSON-serialisable dict with ``input_shape``, ``num_classes``, ``patch_size``,
        ``embed_dim``, ``attention`` (``"split"`` or ``"batched"``) and ``layers``: one
        ``{"num_heads", "head_dim", "mlp_ratio"}`` per encoder layer. Choices are drawn for
        all 12 possible layers and truncated to the sampled depth.
    """
    if space not in SPACE_NAMES:
        raise ValueError(space)
    patch = _pick(rng, PATCH_SIZES)
    embed = _pick(rng, EMBED_DIMS)
    attention = ATTENTION[int(rng.integers(len(ATTENTION)))]
    layers = [
        {
            "num_heads": _pick(rng, NUM_HEADS),
            "head_dim": _pick(rng, HEAD_DIMS),
            "mlp_ratio": _pick(rng, MLP_RATIOS),
        }
        for _ in range(max(DEPTHS))
    ]
    depth = _pick(rng, DEPTHS)
    return {
        "input_shape": list(INPUT_SHAPE),
        "num_classes": NUM_CLASSES,
        "patch_size": patch,
        "embed_dim": embed,
        "attention": attention,
        "layers": layers[:depth],
    }


def _layer_classes():
    """Defines the custom layers (needs ``tf_keras``, hence not at import time)."""
    import tensorflow as tf
    import tf_keras

    class LayerNorm(tf_keras.layers.Layer):
        """Layer normalisation over the last axis from plain ops (INT8-convertible)."""

        def build(self, input_shape):
            dim = int(input_shape[-1])
            self.gamma = self.add_weight(name="gamma", shape=(dim,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(dim,), initializer="zeros")

        def call(self, x):
            mean = tf.reduce_mean(x, axis=-1, keepdims=True)
            centred = x - mean
            var = tf.reduce_mean(centred * centred, axis=-1, keepdims=True)
            return centred * tf.math.rsqrt(var + LN_EPSILON) * self.gamma + self.beta

    class TanhGelu(tf_keras.layers.Layer):
        """GELU, tanh approximation, with x^3 as multiplications (INT8-convertible)."""

        def call(self, x):
            inner = 0.7978845608028654 * (x + 0.044715 * (x * x * x))
            return 0.5 * x * (1.0 + tf.math.tanh(inner))

    class TokenEmbed(tf_keras.layers.Layer):
        """Prepends a learned class token and adds a learned position embedding."""

        def build(self, input_shape):
            tokens, dim = int(input_shape[1]), int(input_shape[2])
            self.cls_token = self.add_weight(name="cls_token", shape=(1, 1, dim))
            self.pos_embed = self.add_weight(name="pos_embed", shape=(1, tokens + 1, dim))

        def call(self, x):
            return tf.concat([self.cls_token, x], axis=1) + self.pos_embed

    class SelfAttention(tf_keras.layers.Layer):
        """Multi-head self-attention with per-head slices, batch matmuls and a head concat."""

        def __init__(self, embed_dim, num_heads, head_dim, split_heads, **kwargs):
            super().__init__(**kwargs)
            self.num_heads = num_heads
            self.head_dim = head_dim
            self.split_heads = split_heads
            inner = num_heads * head_dim
            self.q = tf_keras.layers.Dense(inner, name="q")
            self.k = tf_keras.layers.Dense(inner, name="k")
            self.v = tf_keras.layers.Dense(inner, name="v")
            self.proj = tf_keras.layers.Dense(embed_dim, name="proj")

        def call(self, x):
            q = self.q(x) * (self.head_dim ** -0.5)
            k = self.k(x)
            v = self.v(x)
            if not self.split_heads:
                return self.proj(self._batched(q, k, v))
            heads = []
            for h in range(self.num_heads):
                lo, hi = h * self.head_dim, (h + 1) * self.head_dim
                k_t = tf.transpose(k[:, :, lo:hi], perm=[0, 2, 1])
                scores = tf.nn.softmax(tf.matmul(q[:, :, lo:hi], k_t), axis=-1)
                heads.append(tf.matmul(scores, v[:, :, lo:hi]))
            out = heads[0] if len(heads) == 1 else tf.concat(heads, axis=-1)
            return self.proj(out)

        def _batched(self, q, k, v):
            """All heads at once: (1, N, H*d) -> (1, H, N, d) with RESHAPE + TRANSPOSE."""
            tokens = int(q.shape[1])
            shape = (1, tokens, self.num_heads, self.head_dim)
            q = tf.transpose(tf.reshape(q, shape), perm=[0, 2, 1, 3])
            k = tf.transpose(tf.reshape(k, shape), perm=[0, 2, 3, 1])
            v = tf.transpose(tf.reshape(v, shape), perm=[0, 2, 1, 3])
            scores = tf.nn.softmax(tf.matmul(q, k), axis=-1)
            out = tf.transpose(tf.matmul(scores, v), perm=[0, 2, 1, 3])
            return tf.reshape(out, (1, tokens, self.num_heads * self.head_dim))

    class ClassToken(tf_keras.layers.Layer):
        """Takes the class token (token 0) out of the sequence."""

        def call(self, x):
            return x[:, 0, :]

    return LayerNorm, TanhGelu, TokenEmbed, SelfAttention, ClassToken


def build(config, name="vit"):
    """Builds the Keras vision transformer of a sampled configuration.

    Args:
        config: a dict from :func:`sample`.
        name: the Keras model name; every layer (and every sub-layer) has a fixed name so the
            converted TFLite bytes do not depend on what this process built before.

    Returns:
        A ``tf_keras.Model`` with batch size 1, input 32x32x3 and 100 logits; weights are left
        at their initialisation (the caller sets them).
    """
    import tf_keras
    from tf_keras import layers

    LayerNorm, TanhGelu, TokenEmbed, SelfAttention, ClassToken = _layer_classes()
    patch = config["patch_size"]
    dim = config["embed_dim"]
    inputs = layers.Input(shape=tuple(config["input_shape"]), batch_size=1, name="input")
    x = layers.Conv2D(dim, patch, strides=patch, padding="valid", name="patch_embed")(inputs)
    tokens = int(x.shape[1]) * int(x.shape[2])
    x = layers.Reshape((tokens, dim), name="to_tokens")(x)
    x = TokenEmbed(name="tokens")(x)
    for i, spec in enumerate(config["layers"]):
        prefix = "l{}_".format(i)
        y = LayerNorm(name=prefix + "ln1")(x)
        y = SelfAttention(
            dim, spec["num_heads"], spec["head_dim"], config["attention"] == "split",
            name=prefix + "attn",
        )(y)
        x = layers.Add(name=prefix + "add1")([x, y])
        y = LayerNorm(name=prefix + "ln2")(x)
        y = layers.Dense(dim * spec["mlp_ratio"], name=prefix + "fc1")(y)
        y = TanhGelu(name=prefix + "gelu")(y)
        y = layers.Dense(dim, name=prefix + "fc2")(y)
        x = layers.Add(name=prefix + "add2")([x, y])
    x = LayerNorm(name="ln_final")(x)
    x = ClassToken(name="cls")(x)
    outputs = layers.Dense(config["num_classes"], name="logits")(x)
    return tf_keras.Model(inputs, outputs, name=name)
