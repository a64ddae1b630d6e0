"""The command lines of the two cross-framework checks, read without importing a framework:

- `compare.py parity`: do the PyTorch and Keras models compute the same function? Layer by layer.

    python compare.py parity --model resnet18 --variant imagenet      (runs this module's main)
    python -m crosscheck --model resnet18 --variant imagenet [--backend jax] [--batch 2] [--tol 1e-4] [--json]

- `compare.py verify`: do they train by the same rules? (crosscheck/rules.py; verify_main is its
  per-backend process, `python -m crosscheck.rules ...`.)

Parity:
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

# verify's lengths: the first steps of the run, at a batch that keeps a float64 check of a 32×32
# model within about two minutes on two CPU cores; fewer and smaller at 224×224.
VERIFY_STEPS = {"cifar": 6, "airbench": 6, "imagenet": 2}
VERIFY_BATCH = {"cifar": 16, "airbench": 16, "imagenet": 2}
DTYPES = ("float64", "float32")


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



class OneLineParser(argparse.ArgumentParser):
    """argparse whose mistakes are one line (exit 2), without the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parse_verify_args(argv=None, prog: str = "compare.py verify") -> argparse.Namespace:
    """verify's checked arguments; args.backends, the Keras backends to check against PyTorch."""
    p = OneLineParser(prog=prog, description=(
        "Do PyTorch and Keras train by the same rules? Twins from the same initial weights on the recipe's "
        "first planned batches, beside a control (PyTorch against itself, nudged by round-off); the verdict "
        "names the first step and tensor where the rules differ."),
        epilog="Exit codes: 0 SAME RULES for every backend; 1 DIFFERENT RULES (or a backend failed); 2 bad "
               "arguments or a framework missing; 3 the dataset is missing or corrupt.")
    p.add_argument("--model", choices=MODEL_NAMES, help="required unless --config gives it")
    p.add_argument("--variant", default="cifar", choices=VARIANTS)
    p.add_argument("--config", help="a run's config.json: its recipe, model, variant, seed and data instead "
                                    "of the model's default recipe (what a training run's rules line checks)")
    p.add_argument("--json", help="also write the result as JSON to this file (shared/rules.py)")
    p.add_argument("--backend", default="all",
                   help=f"the Keras backends to check against PyTorch: {', '.join(KERAS_BACKENDS)}, a comma "
                        "list of them, or all (default: every installed one)")
    p.add_argument("--steps", type=int, help="training steps checked (default: 6 at 32×32, 2 at 224×224)")
    p.add_argument("--batch-size", type=int, help="images per step, the plan's first ones (default: 16 at 32×32, "
                                                  "2 at 224×224)")
    p.add_argument("--dtype", default="float64", choices=DTYPES,
                   help="float64 (default): round-off far below any rule; float32: where its round-off alone parts the twins")
    p.add_argument("--seed", type=int, default=0, help="the run's seed: its initial weights and batch plan")
    p.add_argument("--data-dir", help="CIFAR-10 (default: $CIFAR10_DATA, then the cache)")
    args = p.parse_args(argv)
    if args.config:
        from shared.config import RunConfig
        try:
            cfg = RunConfig.load(args.config)
        except (OSError, ValueError, TypeError) as err:
            p.error(f"--config {args.config}: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
        args.model, args.variant = cfg.model, cfg.variant
    if args.model is None:
        p.error("--model is required (or --config)")
    if args.variant not in MODEL_VARIANTS[args.model]:
        p.error(f"--model {args.model} has no {args.variant!r} variant; it has: {', '.join(MODEL_VARIANTS[args.model])}")
    names = [n.strip() for n in args.backend.split(",")] if args.backend != "all" else list(KERAS_BACKENDS)
    unknown = [n for n in names if n not in KERAS_BACKENDS]
    if unknown or len(set(names)) != len(names):
        p.error(f"--backend {args.backend!r}: name each Keras backend once, from {', '.join(KERAS_BACKENDS)}, or all")
    args.backends = [b for b in KERAS_BACKENDS if b in names]
    args.steps = VERIFY_STEPS[args.variant] if args.steps is None else args.steps
    args.batch_size = VERIFY_BATCH[args.variant] if args.batch_size is None else args.batch_size
    if args.steps <= 0 or args.batch_size <= 0:
        p.error("--steps and --batch-size must be positive")
    return args


def verify_main(argv=None) -> int:
    """One Keras backend's rules check (`python -m crosscheck.rules --backend B ...`): Keras on B
    against PyTorch, printed; 0 SAME RULES, 1 DIFFERENT RULES, 3 no dataset."""
    args = parse_verify_args(argv, prog="python -m crosscheck.rules")
    if len(args.backends) != 1:
        print("python -m crosscheck.rules: one Keras backend per process (compare.py verify starts one each)",
              file=sys.stderr)
        return 2
    os.environ["KERAS_BACKEND"] = args.backends[0]  # read once, when Keras is first imported (crosscheck.rules)
    from shared.run import FrameworkImportError, error_line, framework_logs_kept

    try:
        with framework_logs_kept([]):  # TensorFlow's start-up logs stay off the console
            from crosscheck.rules import check  # both frameworks: only now, after the arguments
    except FrameworkImportError as err:
        print(f"compare.py verify: {error_line(err)}", file=sys.stderr)
        return 1
    return check(args)
