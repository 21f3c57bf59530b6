"""`make bench`: run every tests/benchmarks/bench_*.py module's main() in one process, in name order.

Each benchmark prints the ratios it measured in this run; nothing here asserts a speed.
"""
import importlib
import pkgutil
import sys

import tests.benchmarks as package


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_"))
    selected = [n for n in names if not sys.argv[1:] or n in sys.argv[1:]]
    for name in selected:
        print(f"== {name}", flush=True)
        importlib.import_module(f"tests.benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
