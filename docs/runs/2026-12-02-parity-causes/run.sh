#!/bin/bash
# Issue 25's per-cause figures, from the repository root on an idle machine (output: causes.log,
# interleave.log, bn_inference.log in this folder, with TensorFlow's start-up lines filtered out).
set -u
here=docs/runs/2026-12-02-parity-causes
export PYTHONPATH=.
quiet() { grep -v "^I0000\|^WARNING\|oneDNN\|cuda\|rebuild\|instructions\|UserWarning\|warnings.warn"; }
for m in cnn alexnet mobilenet resnet18 vit; do
  python $here/keras_causes.py $m fp32 10 2>&1 | quiet
  python $here/torch_causes.py $m fp32 20
done > $here/causes.log
for m in cnn mobilenet resnet18; do python $here/keras_causes.py $m bf16 10 2>&1 | quiet; done >> $here/causes.log
for m in vit mobilenet; do
  python $here/interleave_torch.py $m fp32 10
  python $here/interleave_keras.py $m fp32 10 2>&1 | quiet
done > $here/interleave.log
# The ViT again with 30 pairs (the first 10-pair lines ran before the scripts printed quartiles).
for script in interleave_torch interleave_keras; do python $here/$script.py vit fp32 30 2>&1 | quiet; done >> $here/interleave.log
for m in cnn mobilenet resnet18; do python $here/bn_inference.py $m fp32 20 2>&1 | quiet; done > $here/bn_inference.log
