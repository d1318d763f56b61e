"""Spektral's ``GCSConv`` over an edge list instead of a dense adjacency (the exported runtime).

The batch-mode network multiplies a dense 0/1 adjacency ``a [B, N, N]`` by the node states in
each of its message-passing layers: ``N^2 x hidden`` multiply-adds a layer, three quarters of a
1,024-node signature's invoke (7.2 of 12.9 ms measured, ``docs/runtime-speed.md``) although a
graph has only ~2-3 neighbours per node. The same product over an edge list is a GATHER of the
neighbours' states and an UNSORTED_SEGMENT_SUM into each node: ``E x hidden`` additions, two
builtin TFLite operators that LiteRT 2.3 and tflite-runtime 2.14 both run.

Edge inputs, for B graphs padded to N nodes and E edge slots each::

    src int32 [B, E]   the neighbour whose state is summed, as a row of the B * N node rows
    dst int32 [B, E]   the node it is summed into, likewise

Node ``i`` of graph ``b`` is row ``b * N + i``. Every edge of the dense adjacency appears once
(``a[b, i, j] = 1`` is ``src = b * N + j, dst = b * N + i``); unused slots hold ``B * N`` in
both, a zero row whose sum is dropped. :class:`EdgeGCS` creates its weights as ``GCSConv`` does
(``kernel_1``, ``kernel_2``, ``bias``, in that order), so a trained model's weights load into it
unchanged: ``relu(A h W1 + h W2 + b)`` with ``A h`` summed over the edges.
"""

from __future__ import annotations

__all__ = ["edge_gcs"]


def edge_gcs(channels: int, activation, regularizer, name: str):
    """A Keras layer: ``[h [B, N, C_in], src [B, E], dst [B, E]] -> [B, N, channels]``, the same
    as ``GCSConv(channels, activation)([h, a])`` for the dense ``a`` the edges describe."""
    import tensorflow as tf
    import tf_keras as keras

    class EdgeGCS(keras.layers.Layer):
        def build(self, shapes):
            c_in = int(shapes[0][-1])
            init = keras.initializers.GlorotUniform()
            self.kernel_1 = self.add_weight(name="kernel_1", shape=(c_in, channels),
                                            initializer=init, regularizer=regularizer)
            self.kernel_2 = self.add_weight(name="kernel_2", shape=(c_in, channels),
                                            initializer=init, regularizer=regularizer)
            self.bias = self.add_weight(name="bias", shape=(channels,), initializer="zeros")

        def call(self, inputs):
            h, src, dst = inputs
            shape = tf.shape(h)
            rows = shape[0] * shape[1]
            msg = tf.reshape(tf.tensordot(h, self.kernel_1, 1), [rows, channels])
            msg = tf.concat([msg, tf.zeros([1, channels], msg.dtype)], 0)  # row B * N: zeros
            summed = tf.math.unsorted_segment_sum(tf.gather(msg, tf.reshape(src, [-1])),
                                                  tf.reshape(dst, [-1]), rows + 1)
            out = tf.reshape(summed[:rows], [shape[0], shape[1], channels])
            out = out + tf.tensordot(h, self.kernel_2, 1) + self.bias
            return keras.activations.get(activation)(out)

    return EdgeGCS(name=name)
