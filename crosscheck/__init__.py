"""The cross-framework check: do the PyTorch and Keras models compute the same function?

It needs both frameworks in one process, so it belongs to neither backend: it sits beside
compare.py, above pytorch_impl and tensorflow_impl, which never import each other.

    python compare.py parity --model resnet18 --variant imagenet     (runs python -m crosscheck)

crosscheck.command reads the arguments without importing a framework; crosscheck.layers holds
the layer-by-layer comparison, which imports both.
"""
