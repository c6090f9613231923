"""The main job's wall time on an idle machine and with two other CPU-bound processes running.

Runs ``nni-rank demo`` (the main job) as a fresh process each time, first with the cores idle, then
with two busy-looping processes beside it; and the old real-training job (``nni-rank search``: 6 NB201
cells, 3 epochs on digits) under the same load with one torch thread (the default) and with torch's
own choice of one thread per core, which is what oversubscribed the cores before.
Writes bench/results/main_job.json and prints a table.
  python bench/bench_main_job.py [--runs 2] [--skip-training]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUSY = [sys.executable, '-c', 'while True: pass']


@contextlib.contextmanager
def busy_processes(n: int):
    procs = [subprocess.Popen(BUSY) for _ in range(n)]
    try:
        time.sleep(1.0)  # let them reach full speed
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed: {done.stderr[-2000:]}')
    return seconds


def series(make_cmd, runs: int, busy: int, env: dict | None = None) -> dict:
    """Time ``make_cmd(i)`` for runs i = 0 .. runs-1 with ``busy`` busy processes beside it."""
    times, loads = [], []
    with busy_processes(busy):
        for i in range(runs):
            times.append(timed(make_cmd(i), env))
            loads.append(round(os.getloadavg()[0], 1))
    cmd = make_cmd(0)
    return {'command': ' '.join(cmd[2:]), 'load_average_1min_after': loads, 'busy_processes': busy, 'env': env or {}, 'seconds': [round(t, 1) for t in times],
            'median_s': round(statistics.median(times), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--runs', type=int, default=2)
    p.add_argument('--skip-training', action='store_true')
    p.add_argument('--out', default='bench/results/main_job.json')
    args = p.parse_args()
    cli = [sys.executable, '-m', 'nni_rank.cli.main']
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for busy in (0, 2):  # a fresh output folder per run: nothing is read back from an earlier run
            rows.append(series(lambda i: cli + ['demo', '--quiet', '--out', f'{tmp}/demo-{busy}-{i}'], args.runs, busy))
        if not args.skip_training:
            train = cli + ['search', '--quiet', '--json', f'{tmp}/train.json']
            rows.append(series(lambda i: train, 1, 2))
            rows.append(series(lambda i: train, 1, 2, env={'NNI_RANK_THREADS': str(os.cpu_count())}))
    for r in rows:
        print(f'{r["command"][:60]:60s} busy={r["busy_processes"]} {r["env"] or ""}  median {r["median_s"]} s  '
              f'(runs {r["seconds"]}, load {r["load_average_1min_after"]})')
    report = {'rows': rows, 'cpu_count': os.cpu_count(), 'python': platform.python_version(),
              'date': time.strftime('%Y-%m-%d')}
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
