"""Seconds per NB201 network for zero-cost proxies, one process and one torch thread (a quiet core).

The reference zero-cost code takes 4.7 s per NB201 net on this CPU for its six proxies (grad_norm, snip,
grasp, fisher, synflow, jacob_cov), 0.35 s for synflow and 1.6 s for NASWOT; the aim is 5x. Times each
proxy alone, the reference six in one call (shared passes) and all twelve, on the same seeded cells and
one real CIFAR-10 minibatch of 64; building the network is timed separately. Prints a table and writes
bench/results/proxy_speed.json.

    python bench/bench_proxy_speed.py --data ../shared/data --n 20
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings('ignore')

REFERENCE_S = {'six': 4.7, 'synflow': 0.35, 'naswot': 1.6}
SIX = ['grad_norm', 'snip', 'grasp', 'fisher', 'synflow', 'jacob_cov']


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data'))
    ap.add_argument('--n', type=int, default=20, help='seeded NB201 cells timed')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='bench/results/proxy_speed.json')
    args = ap.parse_args()
    torch.set_num_threads(1)

    from nni_rank.benchmarks import open_benchmark
    from nni_rank.data import load_cifar, single_minibatch
    from nni_rank.proxies import PROXIES, compute_proxies, nb201_network

    data = Path(args.data)
    batch = single_minibatch(load_cifar(str(data / 'cifar10_train_10k.bin')), 64, seed=args.seed)
    archs = list(open_benchmark(str(data / 'nb201_test_accuracy_200ep.csv')).archs())
    rng = np.random.default_rng(args.seed)
    cells = [archs[i] for i in rng.choice(len(archs), args.n, replace=False)]
    compute_proxies(nb201_network(cells[0]), batch, list(PROXIES), seed=0)  # first-call costs out

    sets = {name: [name] for name in PROXIES}
    sets['six (reference set)'] = SIX
    sets['all twelve'] = list(PROXIES)
    build, rows = [], {}
    for label, names in sets.items():
        secs = []
        for arch in cells:
            start = time.perf_counter()
            model = nb201_network(arch)
            build.append(time.perf_counter() - start)
            start = time.perf_counter()
            compute_proxies(model, batch, names, seed=0)
            secs.append(time.perf_counter() - start)
        rows[label] = {'mean_s': float(np.mean(secs)), 'median_s': float(np.median(secs)), 'proxies': names}
    ref_of = {'six (reference set)': REFERENCE_S['six'], 'synflow': REFERENCE_S['synflow'],
              'naswot': REFERENCE_S['naswot']}
    print(f'{len(cells)} NB201 cells, CIFAR-10 minibatch of 64, 1 process x 1 thread; build {np.mean(build) * 1e3:.1f} ms')
    print(f'{"proxies":22s} {"s per net":>10s} {"reference":>10s} {"speed-up":>9s}')
    for label, row in rows.items():
        line = f'{label:22s} {row["mean_s"]:10.3f}'
        if label in ref_of:
            row['reference_s'], row['speedup'] = ref_of[label], ref_of[label] / row['mean_s']
            line += f' {row["reference_s"]:10.2f} {row["speedup"]:8.1f}x'
        print(line)
    report = {'n': len(cells), 'seed': args.seed, 'threads': 1, 'processes': 1, 'batch': 64,
              'mean_build_s': float(np.mean(build)), 'cpu_count': os.cpu_count(), 'torch': torch.__version__,
              'timings': rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
