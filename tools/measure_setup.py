#!/usr/bin/env python3
"""Measure the first `make run` of a fresh clone, as a new student gets it (run by hand: it takes
minutes, and compiles llama.cpp; not part of `make test`).

Clones this repository into a temporary directory and, with pip's cache disabled (PIP_NO_CACHE_DIR=1)
and no Ollama at OLLAMA_HOST (a closed port; or --ollama URL for the other path), runs `make run` and
times: until the dashboard's /_stcore/health answers; until the built-in server answers (/api/version).
Then stops `make run` as Ctrl-C does and checks nothing it started is left.

    python3 tools/measure_setup.py                  # the committed HEAD
    python3 tools/measure_setup.py --working-tree   # HEAD plus this checkout's uncommitted files
    python3 tools/measure_setup.py --ollama http://127.0.0.1:11434   # the path with Ollama running

Standard library only (it runs before any .venv exists).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def clone(target: pathlib.Path, working_tree: bool) -> None:
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], check=True)
    if not working_tree:
        return
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source, copy = ROOT / name, target / name
        if source.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
        elif copy.exists() and not source.exists():  # deleted in the working tree
            copy.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--working-tree", action="store_true", help="include uncommitted changes")
    parser.add_argument("--ollama", help="an Ollama that answers (default: none, a closed port)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the built-in server")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone")
    args = parser.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="occ-measure-"))
    repo = work / "repo"
    clone(repo, args.working_tree)
    port, builtin_port = free_port(), free_port()
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "OCC_CACHE_DIR": str(work / "store"),
           "COMPANION_DATA_DIR": str(work / "data"),
           "OLLAMA_HOST": args.ollama or f"http://127.0.0.1:{free_port()}"}
    env.pop("VIRTUAL_ENV", None)
    env["TMPDIR"] = str(work / "tmp")  # pip's build folders too, so a stopped build leaves nothing behind
    (work / "tmp").mkdir()
    log_path = work / "make-run.log"
    print(f"clone: {repo}\nlog: {log_path}\nOLLAMA_HOST={env['OLLAMA_HOST']} PIP_NO_CACHE_DIR=1 "
          f"make run PORT={port} BUILTIN_PORT={builtin_port}", flush=True)
    start = time.monotonic()
    with open(log_path, "wb") as log:
        run = subprocess.Popen(["make", "run", f"PORT={port}", f"BUILTIN_PORT={builtin_port}"], cwd=repo,
                               env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    dashboard_s = builtin_s = None
    health = f"http://127.0.0.1:{port}/_stcore/health"
    builtin = f"http://127.0.0.1:{builtin_port}/api/version"
    try:
        while run.poll() is None and time.monotonic() - start < args.timeout:
            if dashboard_s is None and answers(health):
                dashboard_s = time.monotonic() - start
                print(f"dashboard answers (/_stcore/health): {dashboard_s:.0f} s", flush=True)
                if args.ollama:
                    break
            if not args.ollama and builtin_s is None and answers(builtin):
                builtin_s = time.monotonic() - start
                print(f"built-in server answers (/api/version): {builtin_s:.0f} s", flush=True)
            if dashboard_s is not None and (builtin_s is not None or args.ollama):
                break
            time.sleep(0.5)
        if run.poll() is not None:
            print(f"`make run` exited with code {run.returncode}; see {log_path}", flush=True)
        if args.ollama:
            built = (repo / ".venv" / ".server").exists()
            print(f"built-in server installed: {'yes' if built else 'no'}", flush=True)
    finally:
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground group
        try:
            run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    time.sleep(1)
    left = not answers(health) and not answers(builtin)
    print(f"after Ctrl-C: {'nothing answers' if left else 'SOMETHING STILL ANSWERS'}")
    print("tail of the log:\n" + "\n".join(log_path.read_text(errors="replace").splitlines()[-15:]))
    summary = (f"dashboard: {dashboard_s:.0f} s" if dashboard_s is not None else "dashboard: did not answer")
    if not args.ollama:
        summary += (f"; built-in server: {builtin_s:.0f} s" if builtin_s is not None
                    else "; built-in server: did not answer")
    print(summary)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if dashboard_s is not None else 1


if __name__ == "__main__":
    sys.exit(main())
