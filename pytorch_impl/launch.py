"""torchrun for compare.py --devices N on one machine: torch.distributed.run starts N processes of
`python -m pytorch_impl RUN_DIR` (one per device, with RANK, WORLD_SIZE, LOCAL_RANK and a free
rendezvous port in their environment) and watches them; when one fails, it stops the others.

    python -m pytorch_impl.launch RUN_DIR     (compare.py does this; RUN_DIR holds config.json)

The same as `torchrun --standalone --nproc-per-node=N -m pytorch_impl RUN_DIR`, except that a
failed rank ends in one line naming the rank and its exit code or signal, not torchrun's report.
The records and checkpoints of the epochs completed before it are whole (rank 0 writes them
durably, shared/run.py). Several machines: docs/distributed.md, "Several machines" (torchrun with a rendezvous).
"""

from __future__ import annotations

if __name__ == "__main__":
    # run_backend imports torch, then this module (again, as pytorch_impl.launch), inside its
    # guard, so an install that fails to import fails in one line.
    from shared.run import run_backend
    raise SystemExit(run_backend("torch", "pytorch_impl.launch:launch"))

import logging
import os
import signal
import sys
from pathlib import Path

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import get_args_parser, run

from shared.config import RunConfig
from shared.distributed import threads_per_device


def failure_line(err: ChildFailedError) -> str:
    rank, failure = err.get_first_failure()
    how = (f"killed by {signal.Signals(-failure.exitcode).name}" if failure.exitcode < 0
           else f"exit code {failure.exitcode}")
    return f"[torch] rank {rank} of the data-parallel run failed ({how}); the other ranks were stopped"


def launch(cfg: RunConfig, run_dir: Path) -> int:
    """torchrun's agent over cfg.devices processes of `python -m pytorch_impl RUN_DIR`."""
    # torchrun's agent logs its bookkeeping, and a failure at length; failure_line says it once.
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    # Each rank's share of the cores (torchrun would set 1, with a warning, when nothing is set).
    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_device(cfg.devices)))
    args = get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={cfg.devices}", "-m", "pytorch_impl", str(run_dir)])
    try:
        run(args)
    except ChildFailedError as err:
        print(failure_line(err), file=sys.stderr)
        return 1
    return 0
