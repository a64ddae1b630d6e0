"""Keras layers that behave exactly like their PyTorch counterparts (docs/design.md, porting pitfalls)."""

from __future__ import annotations

import math

import keras
from keras import ops


class BatchNorm(keras.layers.BatchNormalization):
    """torch.nn.BatchNorm2d semantics: momentum 0.1 (Keras: 0.9), eps 1e-5, and a running
    variance updated with the *unbiased* batch variance (Keras uses the biased one). Batches are
    normalised with the biased variance, as in PyTorch. `synchronized` (several replicas): the
    statistics of the global batch, as nn.SyncBatchNorm.

    Images (NHWC, float32 or bfloat16) go through TensorFlow's fused kernel (FusedBatchNormV3:
    one pass each way, where Keras' BatchNormalization runs moments, normalisation and their
    gradients as separate ops): in training it returns the Bessel-corrected batch variance, the
    very figure PyTorch's running variance takes. On MobileNetV2's 52 layers at batch 128 it
    takes 40 % of the op-by-op time (docs/benchmarks.md). Anything else (float64, masks,
    synchronised replicas, other ranks) computes the same function op by op."""

    def __init__(self, *, torch_momentum: float = 0.1, epsilon: float = 1e-5, **kwargs):
        kwargs.setdefault("momentum", 1.0 - torch_momentum)
        super().__init__(epsilon=epsilon, **kwargs)

    def call(self, inputs, training=None, mask=None):
        training = bool(training and self.trainable)
        # bf16 and fp16 → float32; float64 stays. Not keras.backend.result_type(dtype, "float32"),
        # nor Keras' own BatchNormalization.call, which uses it: Keras on JAX promotes float64
        # with float32 to float32, and the float64 parity tests would run in float32 there.
        x = inputs if keras.backend.standardize_dtype(inputs.dtype) == "float64" else ops.cast(inputs, "float32")
        if self._fusable(x, mask):
            return ops.cast(self._fused(x, training), self.compute_dtype)
        if training:
            mean, variance = self._moments(x, mask)
            count = ops.cast(ops.size(x), x.dtype) / ops.cast(ops.shape(x)[self.axis], x.dtype)
            if self.synchronized:  # the moments are the whole global batch's (tensorflow_impl/distributed.py)
                import tensorflow as tf  # only TensorFlow synchronises replicas; Keras on JAX never gets here
                count *= tf.distribute.get_replica_context().num_replicas_in_sync
            unbiased = variance * count / ops.maximum(count - 1.0, 1.0)
            self._update_moving_statistics(mean, unbiased)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        outputs = ops.batch_normalization(
            x, ops.cast(mean, x.dtype), ops.cast(variance, x.dtype), axis=self.axis, epsilon=self.epsilon,
            offset=ops.cast(self.beta, x.dtype) if self.center else None,
            scale=ops.cast(self.gamma, x.dtype) if self.scale else None)
        return ops.cast(outputs, self.compute_dtype)

    def _fusable(self, x, mask) -> bool:
        return (keras.backend.backend() == "tensorflow" and x.dtype == "float32" and len(x.shape) == 4
                and self.axis in (-1, 3) and mask is None and not self.synchronized and self.center and self.scale)

    def _fused(self, x, training: bool):
        """The fused kernel; in training, the running statistics updated from its batch moments."""
        import tensorflow as tf  # TensorFlow's kernel (_fusable): Keras on JAX runs the op-by-op path
        stats = {} if training else {"mean": self.moving_mean, "variance": self.moving_variance}
        outputs, mean, unbiased = tf.compat.v1.nn.fused_batch_norm(
            x, scale=self.gamma, offset=self.beta, epsilon=self.epsilon, is_training=training, **stats)
        if training:
            self._update_moving_statistics(mean, unbiased)
        return outputs

    def _update_moving_statistics(self, mean, unbiased_variance):
        m = self.momentum
        self.moving_mean.assign(self.moving_mean * m + ops.cast(mean, self.moving_mean.dtype) * (1.0 - m))
        self.moving_variance.assign(
            self.moving_variance * m + ops.cast(unbiased_variance, self.moving_variance.dtype) * (1.0 - m))

    def get_config(self):
        config = super().get_config()
        config.pop("momentum", None)
        config["torch_momentum"] = 1.0 - self.momentum
        return config


def exact_gelu(x):
    """PyTorch's nn.GELU: 0.5·x·(1 + erf(x/√2)), exact (erf), the constant in x's dtype.
    keras.activations.gelu runs tf.nn.gelu on TensorFlow, which casts 1/√2 from a Python float
    through float32: in float64 it is off by float32's rounding (compare.py verify found it)."""
    return 0.5 * x * (1.0 + ops.erf(x * ops.convert_to_tensor(math.sqrt(0.5), dtype=x.dtype)))


class Scale(keras.layers.Layer):
    """x · scale, the scale in x's own dtype. Not keras.layers.Rescaling: on TensorFlow it casts a
    Python float through float32, so in float64 the product is off by float32's rounding of the
    scale (1/3 → 0.3333333433), which `compare.py verify` found in the float64 twins."""

    def __init__(self, scale: float, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, inputs):
        return inputs * ops.convert_to_tensor(self.scale, dtype=inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def conv3x3(filters: int, *, name: str) -> keras.layers.Conv2D:
    # Stride 1 with 'same' pads k//2 on every side, exactly as PyTorch's padding=1.
    return keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name)


def torch_conv2d(x, filters: int, kernel: int, *, stride: int, padding: int, use_bias: bool = False, name: str,
                 **initializers):
    """nn.Conv2d(kernel, stride, padding) in Keras. 'same' pads asymmetrically when the stride is
    2 (the extra row and column at the bottom/right); PyTorch pads `padding` on every side, so
    pad explicitly and convolve 'valid'. The padding layer is named "<name>.pad"."""
    return _torch_padded(keras.layers.Conv2D, x, kernel, stride, padding, name,
                         filters=filters, use_bias=use_bias, **initializers)


def torch_depthwise_conv2d(x, kernel: int, *, stride: int, padding: int, name: str):
    """nn.Conv2d(C, C, kernel, stride, padding, groups=C, bias=False) in Keras (see torch_conv2d)."""
    return _torch_padded(keras.layers.DepthwiseConv2D, x, kernel, stride, padding, name, use_bias=False)


def _torch_padded(conv_class, x, kernel: int, stride: int, padding: int, name: str, **conv_kwargs):
    """A Keras convolution with PyTorch's symmetric padding: 'same' where that is identical
    (stride 1, padding k//2), else explicit zero padding and a 'valid' convolution."""
    if stride == 1 and padding == kernel // 2:
        return conv_class(kernel_size=kernel, padding="same", name=name, **conv_kwargs)(x)
    if padding:
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}.pad")(x)
    return conv_class(kernel_size=kernel, strides=stride, padding="valid", name=name, **conv_kwargs)(x)
