"""Issue 25: what each of Keras' parity pieces costs per training step, at one model's shapes.

    PYTHONPATH=. python docs/runs/2026-12-02-parity-causes/keras_causes.py MODEL fp32|bf16 REPS

Each piece is timed against the framework's own one, calls interleaved (ours, Keras', ours, ...),
the median of REPS calls after two untimed: the optimizer's update of every trainable variable,
BatchNorm forward and backward at the shapes of the model's BatchNorm inputs (batch 128), the
schedule callback's work per step. The loss is Keras' own in both (nothing to time)."""
import sys

import tensorflow_impl  # noqa: F401  (TensorFlow's environment first)
import keras
import tensorflow as tf

from timing import interleaved_median_ms  # beside this script
from shared.config import resolve
from tensorflow_impl.callbacks import FollowSchedule
from tensorflow_impl.device import make_deterministic, set_precision
from tensorflow_impl.idiomatic import idiomatic_optimizer
from tensorflow_impl.models import build_model
from tensorflow_impl.models.layers import BatchNorm
from tensorflow_impl.optim import make_optimizer

model_name, precision, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = resolve(model_name, batch_size=128, precision=precision)
make_deterministic("cpu")
set_precision("cpu", precision)
keras.utils.set_random_seed(0)
model = build_model(cfg.model, variant=cfg.variant, num_classes=10, image_size=32)


def optimizer_update(optimizer):
    variables = model.trainable_variables
    gradients = [tf.random.normal(v.shape, stddev=1e-3, dtype=v.dtype) for v in variables]
    optimizer.build(variables)
    update = tf.function(lambda: optimizer.apply_gradients(zip(gradients, variables)))

    def call():
        update()
        return optimizer.iterations.numpy()  # waits for the update
    return call


class OpByOp(BatchNorm):
    """Ours before the fused kernel: moments, normalisation and their gradients op by op."""

    def _fusable(self, x, mask):
        return False


def batchnorm_pass(make_layer, inputs):
    layers = [make_layer(layer) for layer in bns]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            total = tf.add_n([tf.reduce_sum(tf.cast(layer(x, training=True), tf.float32) * tf.cast(x, tf.float32))
                              for layer, x in zip(layers, inputs)])
        return tape.gradient(total, inputs + [w for layer in layers for w in layer.trainable_weights])
    return lambda: step()[0].numpy()


figures = interleaved_median_ms({"optimizer, ours": optimizer_update(make_optimizer(cfg)),
                                 "optimizer, Keras'": optimizer_update(idiomatic_optimizer(cfg))}, reps)
bns = [layer for layer in model.layers if isinstance(layer, BatchNorm)]
if bns:
    tf.random.set_seed(0)
    inputs = [tf.random.normal((128,) + tuple(layer.input.shape[1:])) for layer in bns]
    figures.update(interleaved_median_ms({
        "BatchNorm, ours (fused)": batchnorm_pass(lambda layer: BatchNorm(axis=layer.axis), inputs),
        "BatchNorm, ours op by op": batchnorm_pass(lambda layer: OpByOp(axis=layer.axis), inputs),
        "BatchNorm, Keras'": batchnorm_pass(
            lambda layer: keras.layers.BatchNormalization(axis=layer.axis, momentum=0.9, epsilon=1e-5), inputs)},
        reps))
model.compile(optimizer=make_optimizer(cfg), loss="categorical_crossentropy")
callback = FollowSchedule(cfg, steps=1000)
callback.set_model(model)
steps = iter(range(10**9))
figures.update(interleaved_median_ms({"schedule callback": lambda: callback.on_train_batch_begin(next(steps))},
                                     reps))
print(f"{model_name} {precision} keras: {len(bns)} BatchNorm layers, ms per step:")
for name, ms in figures.items():
    print(f"  {name:26s} {ms:9.2f}")
