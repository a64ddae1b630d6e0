from shared.run import run_backend

# torch is imported inside run_backend: an install that fails to import fails in one line.
raise SystemExit(run_backend("torch", "pytorch_impl.train:train"))
