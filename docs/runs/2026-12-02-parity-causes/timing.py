"""The one timing rule of this folder's scripts: the calls in turn (ours, the framework's, ours,
...), `reps` rounds after two untimed calls of each; the median of each, in milliseconds."""
import statistics
import time


def interleaved_median_ms(calls: dict, reps: int) -> dict:
    for call in calls.values():
        call(), call()
    seconds = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(s) for name, s in seconds.items()}
