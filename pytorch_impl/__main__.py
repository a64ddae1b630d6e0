from shared.run import run_backend

from .train import train

raise SystemExit(run_backend("torch", train))
