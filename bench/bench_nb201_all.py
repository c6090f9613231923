"""Wall time of ``nni-rank proxies --space nb201 --all`` (every one of the 15,625 cells), and its resume.

    python bench/bench_nb201_all.py [--proxies synflow,params,flops] [--workers 2]

Runs the command as a user would, in a fresh folder: once from scratch (timed, with the load average
of the machine before and after, and the CPU seconds of the command and its workers), then interrupts a
second run with SIGINT (Ctrl-C) after ``--interrupt-after`` seconds and runs the same command again
(timed): the resumed table must equal the first one. Target: under 3 minutes on 2 cores for the
default proxies. Writes bench/results/nb201_all.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def command(out: Path, proxies: str, workers: int) -> list[str]:
    return [sys.executable, '-m', 'nni_rank.cli.main', 'proxies', '--space', 'nb201', '--all', '--proxies', proxies,
            '--workers', str(workers), '--out', str(out)]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], env: dict) -> dict:
    load, cpu, start = os.getloadavg(), children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f'{" ".join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}')
    return {'wall_s': time.perf_counter() - start, 'cpu_s': children_cpu() - cpu,
            'load_average_before': load, 'load_average_after': os.getloadavg(), 'stdout': done.stdout.strip()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--proxies', default='synflow,params,flops')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--interrupt-after', type=float, default=30.0, help='seconds before the Ctrl-C of the resume check')
    ap.add_argument('--no-resume-check', action='store_true')
    ap.add_argument('--resume-only', metavar='TABLE',
                    help='skip the run from scratch: check the resume against this uninterrupted table (same '
                         'settings) and keep the from-scratch timing already in --out')
    ap.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'nb201_all.json'))
    args = ap.parse_args()
    env = {**os.environ, 'PYTHONPATH': str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', '')}
    folder = Path(tempfile.mkdtemp(prefix='nb201_all_'))
    try:
        first = folder / 'first.csv'
        report = {'proxies': args.proxies, 'workers': args.workers, 'cpu_count': os.cpu_count(),
                  'command': ' '.join(command(first, args.proxies, args.workers)[1:])}
        if args.resume_only:
            first = Path(args.resume_only)
            report['from_scratch'] = json.loads(Path(args.out).read_text())['from_scratch']
        else:
            report['from_scratch'] = timed_run(command(first, args.proxies, args.workers), env)
        print(f'from scratch: {report["from_scratch"]["wall_s"]:.1f} s wall, {report["from_scratch"]["cpu_s"]:.1f} s CPU, '
              f'load {report["from_scratch"]["load_average_before"][0]:.2f} before', flush=True)
        if not args.no_resume_check:
            second = folder / 'second.csv'
            cmd = command(second, args.proxies, args.workers)
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal's
            time.sleep(args.interrupt_after)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate()
            cache = next(Path(f'{second}.cache').glob('*.csv'), None)
            cached = sum(1 for _ in open(cache)) - 1 if cache else 0
            resumed = timed_run(cmd, env)
            same = first.read_text() == second.read_text()
            report['resume'] = {'interrupted_after_s': args.interrupt_after, 'interrupt_exit_code': proc.returncode,
                                'interrupt_message': err.strip().splitlines()[-1] if err.strip() else '',
                                'networks_cached_at_interrupt': cached, 'resumed': resumed,
                                'same_table_as_uninterrupted': same}
            print(f'resume: Ctrl-C after {args.interrupt_after:.0f} s (exit {proc.returncode}, {cached} networks cached), '
                  f'then {resumed["wall_s"]:.1f} s to finish; same table: {same}')
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=1))
        print(f'written to {args.out}')
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main()
