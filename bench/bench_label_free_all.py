"""``zc_ensemble`` on every one of the 15,625 NAS-Bench-201 cells: wall time and Spearman against the benchmark.

    python bench/bench_label_free_all.py [--data ../shared/data] [--workers 2]

Runs ``nni-rank proxies --space nb201 --all --proxies zc_ensemble`` as a user would (64 CIFAR-10 training images,
seed 0, one torch thread per worker; each distinct network function scored once), timed, with the machine's load
average before and after; the cache folder (``--work``) makes an interrupted run resumable, and a finished one is
only read back. Then Spearman / Kendall of the table (undefined scores ranked last) against 200-epoch test and
validation accuracy on CIFAR-10 and CIFAR-100, over all 15,625 cells and over the 9,445 de-duplicated cells of
NAS-Bench-Suite-Zero. Targets: Spearman >= 0.92 (C10, C100) and under 30 minutes on 2 cores.
Writes bench/results/label_free_all.json.
"""
from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nni_rank.cli.proxies import correlations  # noqa: E402
from nni_rank.files import write_json  # noqa: E402


def read_column(path: Path, column: str) -> dict[str, float]:
    with open(path, newline='') as f:
        return {row['arch_str']: float(row[column]) for row in csv.DictReader(f)}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--data', default=str(REPO.parent / 'shared' / 'data'))
    ap.add_argument('--proxy', default='zc_ensemble')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--work', default='/tmp/nni-rank-label-free-all', help='table and cache (resumable)')
    ap.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'label_free_all.json'))
    args = ap.parse_args()
    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    table = work / f'nb201_{args.proxy}.csv'
    cmd = [sys.executable, '-m', 'nni_rank.cli.main', 'proxies', '--space', 'nb201', '--all', '--proxies', args.proxy,
           '--data-dir', str(data / 'cifar10_train_10k.bin'), '--workers', str(args.workers), '--out', str(table),
           '--cache-dir', str(work / 'cache'), '--quiet']
    env = {**os.environ, 'PYTHONPATH': str(REPO) + os.pathsep + os.environ.get('PYTHONPATH', '')}
    load, cpu, start = os.getloadavg(), children_cpu(), time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f'{" ".join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-800:]}')
    run = {'command': ' '.join(cmd[1:]), 'wall_s': round(time.perf_counter() - start, 1),
           'cpu_s': round(children_cpu() - cpu, 1), 'load_average_before': load, 'load_average_after': os.getloadavg(),
           'stdout': done.stdout.strip()[-400:]}
    scores = read_column(table, args.proxy)
    dedup = set(read_column(data / 'nb201_zc_reference_cifar10.csv', 'synflow'))
    labels = {'c10_test': ('nb201_test_accuracy_200ep.csv', 'cifar10_test_acc'),
              'c100_test': ('nb201_test_accuracy_200ep.csv', 'cifar100_test_acc'),
              'c10_valid': ('nb201_valid_accuracy_200ep.csv', 'cifar10_valid_acc'),
              'c100_valid': ('nb201_valid_accuracy_200ep.csv', 'cifar100_valid_acc')}
    result = {}
    for name, (file, column) in labels.items():
        acc = read_column(data / file, column)
        for subset, archs in (('all_15625', sorted(acc)), ('dedup_9445', sorted(a for a in acc if a in dedup))):
            values = np.array([scores[a] for a in archs], dtype=float)
            result.setdefault(subset, {})[name] = {**correlations(values, np.array([acc[a] for a in archs])),
                                                   'n': len(archs)}
    report = {'proxy': args.proxy, 'cells': len(scores), 'run': run, 'spearman_target': 0.92,
              'minutes_target': 30, 'published_all_15625': {'VKDNW_agg': [0.919, 0.919, 0.906], 'AZ-NAS_c10': 0.913},
              'imagenet16_120': 'not measured: no ImageNet16-120 images here', **result}
    print({s: {k: round(v['spearman'], 4) for k, v in r.items()} for s, r in result.items()}, run['wall_s'])
    print(f'written to {write_json(args.out, report)}')


if __name__ == '__main__':
    main()
