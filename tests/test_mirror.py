"""The two backends mirror each other, read with ast (nothing is imported, so no framework): the
same module files, and in each pair of modules the same public top-level names (functions,
classes, module constants), so that one role has one name on both sides. What only one framework
needs is listed below with its reason; any other difference fails. To fix a failure, give the
same role the same name on both sides, or list the name here with a one-line reason."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import ROOT

TORCH, KERAS = "pytorch_impl", "tensorflow_impl"

# Module files only one backend has, relative to its package.
ONE_SIDED_FILES = {
    TORCH: {
        "init_weights.py": "the initial weights both backends load: PyTorch's seeded init, torchvision's backbones",
        "launch.py": "starts torchrun's one process per device; tf.distribute runs every replica in one process",
        "pretrained.py": "reads torchvision's pretrained weights; Keras gets them through initial_weights.npz",
    },
    KERAS: {
        "callbacks.py": "Keras' fit is steered by callbacks; PyTorch's loop is written out in train.py",
        "models/layers.py": "Keras layers that compute as their torch.nn counterparts, which are the reference",
        "engine.py": "picks TensorFlow's or JAX's input path and device glue for the Keras code that runs on both",
        **{f"on_jax/{name}": "Keras on JAX, a third backend that reuses the Keras code (test_keras_on_jax_mirrors_tensorflow)"
           for name in ("__init__.py", "__main__.py", "bench.py", "data.py", "device.py", "distributed.py")},
    },
}

_BLOCK = "a torchvision block written out in Keras; PyTorch builds the model with torchvision's builder"
_LOOP = "a piece of PyTorch's training loop, written out; Keras' fit runs its own"

# Public names only one side of a module pair has: {module file: {package: {name: reason}}}.
ONE_SIDED_NAMES = {
    "data.py": {
        TORCH: {
            "normalize": "to_batch's on-device half, for images already on the GPU; Keras' to_batch takes tensors",
            "to_labels": "integer labels for CrossEntropyLoss; Keras' batches carry one-hot labels built in tf.data",
            "ResidentImages": "the GPU path's image set, uploaded once; tf.data holds the set in its graph",
        },
        KERAS: {
            "repeated": "the bench's staged batch as a data source for fit; PyTorch's bench loop reuses the tensor",
            "interleaved": "the bench's compute and train steps as one stream for fit; PyTorch's loop alternates itself",
            "one_copy_tensor": "puts the images into the tf.data graph without tf.constant's extra copies",
            "without_graph_rewrites": "turns off tf.data's rewrites, which copy the captured images",
            "feature_batches": "the probe's cached features as a data source for fit; PyTorch's probe loop indexes them",
        },
    },
    "device.py": {
        TORCH: {
            "autocast": "PyTorch's mixed precision per forward pass; Keras' set_precision sets a global policy",
            "grad_scaler": "PyTorch's fp16 loss scaling; Keras wraps the optimizer itself under mixed_float16",
        },
        KERAS: {
            "compiled_inference": "Keras' model call as one compiled graph; PyTorch runs the module as it is",
        },
    },
    "tta.py": {
        KERAS: {
            "make_tta_evaluator": "fit's validation is the plain pass, so Keras runs the TTA pass apart; PyTorch's "
                            "evaluate (train.py) takes the mode",
        },
    },
    "distributed.py": {
        TORCH: {
            "Replica": "this process's rank and device: PyTorch runs one process per device",
            "join": "joins torchrun's process group; Keras' start-up step is replicate (a tf.distribute strategy)",
            "leave": "leaves the process group; a tf.distribute strategy needs no teardown",
            "all_reduce_sum": "the collective under the CPU's synchronised BatchNorm; Keras all-reduces inside fit",
            "SyncBatchNormFunction": "synchronised BatchNorm on the CPU (torch's SyncBatchNorm is CUDA-only)",
            "GlooSyncBatchNorm": "synchronised BatchNorm on the CPU (torch's SyncBatchNorm is CUDA-only)",
            "data_parallel": "DistributedDataParallel around the model; Keras builds it in the strategy's scope",
        },
        KERAS: {
            "replicate": "the tf.distribute strategy, every replica in this process; PyTorch's counterpart is join",
            "output_dir": "where each worker of a TF_CONFIG run writes; in PyTorch, rank 0 writes (Replica.is_main)",
            "distributed_training_batches": "training_batches per tf.distribute replica; Replica.shard in PyTorch",
        },
    },
    "optim.py": {
        TORCH: {
            "set_learning_rate": "PyTorch's loop sets the rate before each step; in Keras, callbacks.FollowSchedule",
            "norm_biases": "the normalisation layers' biases, found by module type; Keras tests each variable (is_norm_bias)",
        },
        KERAS: {
            "decays": "shared.config.decays for Keras variables (by path); PyTorch calls the shared rule directly",
            "TorchSGD": "PyTorch's SGD update rule as a Keras optimizer; PyTorch uses torch.optim.SGD",
            "TorchAdamW": "PyTorch's AdamW update rule as a Keras optimizer; PyTorch uses torch.optim.AdamW",
            "is_norm_bias": "a normalisation layer's beta, by path; PyTorch collects them by module type (norm_biases)",
        },
    },
    "probe.py": {
        TORCH: {
            "train_probe": "trains the head on cached features in its own loop; Keras fits it in train.py",
        },
        KERAS: {
            "probe_datasets": "the head model and feature datasets for train.py's fit; PyTorch's train_probe loops",
        },
    },
    "train.py": {
        TORCH: {
            "compiled": "torch.compile when --compile; Keras compiles in model.compile(jit_compile=...)",
            "evaluate": "the validation pass; Keras' fit evaluates validation_data",
            "synchronize": "waits for the GPU before a clock is read; Keras' fit and callbacks see finished steps",
            "train_epoch": _LOOP,
            "train_step": _LOOP,
            "train_replica": "train() in one of torchrun's processes; Keras trains every replica in one process",
        },
    },
    "weights.py": {
        KERAS: {
            "Mapping": "the layout port to PyTorch's tensors; PyTorch's own state is the neutral format",
            "PortError": "the layout port to PyTorch's tensors; PyTorch's own state is the neutral format",
            "flattened_map_shape": "the layout port to PyTorch's tensors; PyTorch's own state is the neutral format",
            "mappings": "the layout port to PyTorch's tensors; PyTorch's own state is the neutral format",
        },
    },
    "models/alexnet.py": {
        TORCH: {"init_like_vgg": "He initialisation of the built nn.Module; Keras gives he_normal to each layer"},
        KERAS: {"he_normal": "init_like_vgg's initialisation as a Keras initializer, for each layer as it is built"},
    },
    "models/cnn.py": {
        TORCH: {
            "CNN": "the network as an nn.Module class; Keras builds it with the functional API in cnn()",
            "ConvBlock": "a block as an nn.Module class; Keras' is the function conv_block",
            "AirbenchCNN": "the airbench variant as an nn.Module class; Keras builds it in airbench_cnn()",
        },
        KERAS: {"conv_block": "PyTorch's ConvBlock in the functional API",
                "airbench_cnn": "PyTorch's AirbenchCNN in the functional API"},
    },
    "models/mobilenet.py": {KERAS: {"conv_bn_relu6": _BLOCK, "inverted_residual": _BLOCK}},
    "models/resnet.py": {KERAS: {"STAGES": _BLOCK, "basic_block": _BLOCK}},
    "models/vit.py": {KERAS: {"ClassToken": _BLOCK, "PositionEmbedding": _BLOCK, "encoder_block": _BLOCK}},
}


def module_files(package: str) -> set[str]:
    return {p.relative_to(ROOT / package).as_posix() for p in (ROOT / package).rglob("*.py")}


def public_names(path: Path) -> set[str]:
    """The public names a module defines at its top level (also inside a top-level if/try/with):
    functions, classes and assigned names. Imported names are not the module's own."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                # x = ... and x, y = ... define names; os.environ[k] = ... or obj.attr = ... do not
                names.update(n.id for t in targets for n in ([t] if isinstance(t, ast.Name) else getattr(t, "elts", []))
                             if isinstance(n, ast.Name))
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                visit(getattr(node, "finalbody", []))

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)).body)
    return {name for name in names if not name.startswith("_")}


PAIRED = sorted(module_files(TORCH) & module_files(KERAS))


def test_both_backends_have_the_same_module_files():
    assert {"train.py", "data.py", "models/cnn.py"} <= set(PAIRED)
    unlisted = {package: sorted(module_files(package) - module_files(other) - set(ONE_SIDED_FILES[package]))
                for package, other in ((TORCH, KERAS), (KERAS, TORCH))}
    assert unlisted == {TORCH: [], KERAS: []}, (
        f"module files in one backend only, not in ONE_SIDED_FILES: {unlisted}; "
        f"give the file the same name in both, or list it with a reason")


@pytest.mark.parametrize("module", PAIRED)
def test_each_module_pair_has_the_same_public_names(module):
    names = {package: public_names(ROOT / package / module) for package in (TORCH, KERAS)}
    listed = ONE_SIDED_NAMES.get(module, {})
    unlisted = {package: sorted(names[package] - names[other] - set(listed.get(package, {})))
                for package, other in ((TORCH, KERAS), (KERAS, TORCH))}
    assert unlisted == {TORCH: [], KERAS: []}, (
        f"{module}: public names in one backend only, not in ONE_SIDED_NAMES: "
        f"only in {TORCH}/{module}: {unlisted[TORCH]}, only in {KERAS}/{module}: {unlisted[KERAS]}; "
        f"give the role the same name on both sides, or list the name with a reason")


def test_the_lists_name_only_real_differences_each_with_a_reason():
    """A listed file or name that both sides now have, or that is gone, is a stale entry."""
    stale = []
    for package, other in ((TORCH, KERAS), (KERAS, TORCH)):
        for file, reason in ONE_SIDED_FILES[package].items():
            if file not in module_files(package) or file in module_files(other) or not reason.strip():
                stale.append(f"{package}/{file}")
    for module, by_package in ONE_SIDED_NAMES.items():
        if module not in PAIRED:
            stale.append(f"{module} (not a module both backends have)")
            continue
        names = {package: public_names(ROOT / package / module) for package in (TORCH, KERAS)}
        for package, listed in by_package.items():
            other = KERAS if package == TORCH else TORCH
            stale += [f"{package}/{module}: {name}" for name, reason in listed.items()
                      if name not in names[package] or name in names[other] or not reason.strip()]
    assert stale == [], f"stale or unexplained entries in test_mirror.py's lists: {stale}"


def test_public_names_reads_definitions_not_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("import os\nfrom x import y\nA = 1\n_b = 2\nC: int = 3\ndef f(): pass\nclass K: pass\n"
                      "def _g(): pass\nif True:\n    D = 4\ntry:\n    E = 5\nexcept ImportError:\n    F = 6\n")
    assert public_names(source) == {"A", "C", "f", "K", "D", "E", "F"}


# Keras on JAX (tensorflow_impl/on_jax/) stands in for TensorFlow-only modules: engine.py picks one
# or the other, so each on_jax module offers the public names its TensorFlow twin does, bar these.
JAX_TWINS = {
    "data.py": {
        "tensorflow": {"augment": "tf.data's augmentation in TensorFlow ops; JAX's batches are made by shared.batch_plan",
                       "one_copy_tensor": "a tf.data device", "without_graph_rewrites": "a tf.data device"},
        "jax": {"one_hot": "numpy one-hot labels; TensorFlow's are made in tf.data",
                "PlannedBatches": "the training stream as a keras.utils.PyDataset; TensorFlow's is a tf.data pipeline",
                "EvalBatches": "an evaluation set as a keras.utils.PyDataset; TensorFlow's is a tf.data pipeline",
                "FeatureBatches": "the probe's cached features as a keras.utils.PyDataset; TensorFlow's are a tf.data pipeline"},
    },
    "device.py": {"tensorflow": {}, "jax": {}},
    "distributed.py": {"tensorflow": {},
                       "jax": {"OneDevice": "the one-device strategy; TensorFlow's are tf.distribute's"}},
}


@pytest.mark.parametrize("module", sorted(JAX_TWINS))
def test_keras_on_jax_mirrors_tensorflow(module):
    names = {"tensorflow": public_names(ROOT / KERAS / module), "jax": public_names(ROOT / KERAS / "on_jax" / module)}
    unlisted = {side: sorted(names[side] - names[other] - set(JAX_TWINS[module][side]))
                for side, other in (("tensorflow", "jax"), ("jax", "tensorflow"))}
    assert unlisted == {"tensorflow": [], "jax": []}, (
        f"{module}: public names on one side only: {unlisted}; give the role the same name, or list it in JAX_TWINS")
    stale = {side: sorted(set(listed) & names[other]) for side, other in (("tensorflow", "jax"), ("jax", "tensorflow"))
             for listed in [JAX_TWINS[module][side]]}
    assert stale == {"tensorflow": [], "jax": []}, f"{module}: JAX_TWINS lists names both sides have: {stale}"
