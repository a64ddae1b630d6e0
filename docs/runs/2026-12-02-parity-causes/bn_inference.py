"""Issue 25: BatchNorm in eval mode, fused kernel against Keras' op-by-op, at a model's shapes (eval batch)."""
import sys

import tensorflow_impl  # noqa: F401  (TensorFlow's environment first)
import tensorflow as tf

from timing import interleaved_median_ms  # beside this script
from shared.config import eval_batch_for
from tensorflow_impl.device import make_deterministic, set_precision
from tensorflow_impl.models import build_model
from tensorflow_impl.models.layers import BatchNorm

model_name, precision, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
make_deterministic("cpu"); set_precision("cpu", precision); tf.random.set_seed(0)
model = build_model(model_name, variant="cifar", num_classes=10, image_size=32)
batch = int(sys.argv[4]) if len(sys.argv) > 4 else eval_batch_for(32)
bns = [l for l in model.layers if isinstance(l, BatchNorm)]
inputs = [tf.random.normal((batch,) + tuple(l.input.shape[1:])) for l in bns]


class OpByOp(BatchNorm):
    def _fusable(self, x, mask):
        return False


def make(cls):
    layers = [cls(axis=l.axis) for l in bns]
    for layer, x in zip(layers, inputs):
        layer.build(x.shape)
    step = tf.function(lambda: [layer(x, training=False) for layer, x in zip(layers, inputs)])
    return lambda: step()[0].numpy()


times = interleaved_median_ms({"fused": make(BatchNorm), "op by op": make(OpByOp)}, reps)
print(model_name, precision, f"eval batch {batch}, {len(bns)} BatchNorm layers, ms:",
      {k: round(ms, 1) for k, ms in times.items()})
