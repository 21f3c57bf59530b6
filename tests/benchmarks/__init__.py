"""`make bench`: each bench_*.py module prints the ratios it measures in one run."""
import statistics
import time


def alternate_medians(functions, rounds: int) -> list[float]:
    """Median seconds of each function, called in turn `rounds` times (so drifts hit all alike)."""
    times = [[] for _ in functions]
    for _ in range(rounds):
        for function, spent in zip(functions, times):
            started = time.perf_counter()
            function()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) for spent in times]
