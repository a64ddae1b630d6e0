"""PyTorch backend. Run as a process by compare.py: `python -m pytorch_impl RUN_DIR`."""
