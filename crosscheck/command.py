"""Do the PyTorch and Keras models compute the same function? Layer by layer.

    python compare.py parity --model resnet18 --variant imagenet      (runs this module's main)
    python -m crosscheck --model resnet18 --variant imagenet [--backend jax] [--batch 2] [--tol 1e-4] [--json]

Builds the PyTorch model, ports its weights to the Keras model (tensorflow_impl.weights), runs
one random batch through both in eval mode and compares the output of every layer that exists
under the same name in both (Keras layers carry their PyTorch module's path). The first layer
whose output differs by more than the tolerance is where the two implementations part. Needs both
frameworks in this one process; this module imports neither, so --help and bad arguments are
answered at once (crosscheck.layers imports them). --backend jax runs the same Keras model on JAX
instead of TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys

from shared.architectures import input_size
from shared.backends import KERAS_BACKENDS
from shared.config import MODEL_NAMES, MODEL_VARIANTS, VARIANTS


def parse_args(argv=None) -> argparse.Namespace:
    """The checked arguments, and args.size, the input side."""
    p = argparse.ArgumentParser(prog="compare.py parity", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=MODEL_NAMES)
    p.add_argument("--variant", default="cifar", choices=VARIANTS)
    p.add_argument("--image-size", type=int, help="input side (resizable models only; default: the variant's)")
    p.add_argument("--backend", default="tensorflow", choices=KERAS_BACKENDS,
                   help="the framework Keras runs on, against PyTorch (default: tensorflow)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args(argv)
    if args.variant not in MODEL_VARIANTS[args.model]:
        p.error(f"--model {args.model} has no {args.variant!r} variant; it has: {', '.join(MODEL_VARIANTS[args.model])}")
    if args.batch <= 0 or not args.tol > 0:
        p.error("--batch and --tol must be positive")
    try:
        args.size = input_size(args.model, args.variant, args.image_size)
    except ValueError as err:
        p.error(str(err))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend  # read once, when Keras is first imported (crosscheck.layers)
    from shared.run import FrameworkImportError, error_line, framework_logs_kept

    try:
        with framework_logs_kept([]):  # TensorFlow's start-up logs stay off the console
            from crosscheck.layers import check  # both frameworks: only now, after the arguments
    except FrameworkImportError as err:  # a broken install is one line, as in training and bench
        print(f"compare.py parity: {error_line(err)}", file=sys.stderr)
        return 1
    return check(args)

