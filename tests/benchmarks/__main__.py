"""`make bench`: run every tests/benchmarks/bench_*.py module's main(), each in a process of its
own (one benchmark's threads or memory must not weigh on the next), in name order.

Each benchmark prints the ratios it measured in this run; nothing here asserts a speed.
"""
import os
import pathlib
import pkgutil
import shutil
import subprocess
import sys

import tests.benchmarks as package

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name.startswith("bench_"))
    failed = 0
    data = ROOT / ".cache" / "bench-data"  # what the pages save goes inside the repository
    env = {**os.environ, "COMPANION_DATA_DIR": str(data)}
    try:
        for name in [n for n in names if not sys.argv[1:] or n in sys.argv[1:]]:
            print(f"== {name}", flush=True)
            code = f"import tests.benchmarks.{name} as bench; bench.main()"
            failed += subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env).returncode != 0
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
