"""Issue 25: ours and the idiomatic reference in alternating windows of the same staged batch (Keras).

    PYTHONPATH=. python docs/runs/2026-12-02-parity-causes/interleave_keras.py MODEL fp32|bf16 ROUNDS

As interleave_torch.py: each window is a fit of 3 steps on the repeated batch, timed from its
first step's start to its last step's end (fit's own start-up left out); ours with the schedule
callback, the reference with Keras' own BatchNormalization, optimizer and loss."""
import statistics
import sys
import time

import tensorflow_impl  # noqa: F401  (TensorFlow's environment first)
import keras
import numpy as np
import tensorflow as tf

from shared.config import resolve
from tensorflow_impl.callbacks import FollowSchedule
from tensorflow_impl.device import make_deterministic, set_precision
from tensorflow_impl.idiomatic import idiomatic_model, idiomatic_optimizer
from tensorflow_impl.models import build_model
from tensorflow_impl.optim import make_loss, make_optimizer

model_name, precision, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = resolve(model_name, batch_size=128, precision=precision)
make_deterministic("cpu")
set_precision("cpu", precision)
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
staged = tf.data.Dataset.from_tensors((rng.standard_normal((128, 32, 32, 3)).astype("float32"),
                                       np.eye(10, dtype="float32")[rng.integers(0, 10, 128)])).repeat()
model = build_model(cfg.model, variant=cfg.variant, num_classes=10, image_size=32)
reference = idiomatic_model(model)
model.compile(optimizer=make_optimizer(cfg), loss=make_loss(cfg),
              metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
reference.compile(optimizer=idiomatic_optimizer(cfg), metrics=["accuracy"],
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing))


class Window(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.end, self.logs = time.perf_counter(), logs


def window(net, callbacks, steps):
    timer = Window()
    net.fit(staged, epochs=1, steps_per_epoch=steps, callbacks=callbacks + [timer], verbose=0)
    float(timer.logs["loss"])
    return 128 * steps / (timer.end - timer.start)


schedule = FollowSchedule(cfg, steps=10**6)
window(model, [schedule], 5), window(reference, [], 5)
pairs = [(window(model, [schedule], 3), window(reference, [], 3)) for _ in range(rounds)]
o, i = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
ratios = statistics.quantiles([a / b for a, b in pairs], n=4)  # the pair ratios' quartiles
print(f"{model_name} {precision} keras interleaved, {rounds} pairs: ours {o:.1f} img/s, idiomatic {i:.1f} img/s, "
      f"ratio of medians {o / i:.3f}, median pair ratio {ratios[1]:.3f} (quartiles {ratios[0]:.3f}–{ratios[2]:.3f})")
