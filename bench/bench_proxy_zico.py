"""ZiCo on NAS-Bench-201: Spearman with CIFAR-10 test accuracy over sampled cells, and seconds per net.

    python bench/bench_proxy_zico.py --data ../shared/data --n 200

One process, one thread; cells drawn with ``--seed`` among all 15,625; each net built with init seed 0 and
scored on one augmented CIFAR-10 training minibatch of 64 (as bench/bench_proxies.py). Writes
bench/results/proxy_zico.json (the published ZiCo on NB201 CIFAR-10 is about 0.80 Spearman, with gradients
of separate minibatches; here the two halves of one minibatch).
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data'))
    ap.add_argument('--n', type=int, default=200, help='NB201 cells scored')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--out', default='bench/results/proxy_zico.json')
    args = ap.parse_args()
    import torch
    from scipy.stats import spearmanr

    from nni_rank.benchmarks import open_benchmark
    from nni_rank.data import load_cifar, single_minibatch
    from nni_rank.proxies import score_nb201
    from nni_rank.proxies.zico import ZICO_SPLITS
    torch.set_num_threads(1)
    warnings.filterwarnings('ignore')
    batch = single_minibatch(load_cifar(str(Path(args.data) / 'cifar10_train_10k.bin')), 64, seed=args.seed,
                             augment=True)
    bench = open_benchmark(str(Path(args.data) / 'nb201_test_accuracy_200ep.csv'))
    archs = list(bench.archs())
    rng = np.random.default_rng(args.seed)
    cells = [archs[i] for i in rng.choice(len(archs), args.n, replace=False)]
    acc = np.array([bench.accuracy(a, 'cifar10') for a in cells], dtype=float)
    values, secs = [], []
    load_before = os.getloadavg()
    for i, arch in enumerate(cells):
        start = time.perf_counter()
        values.append(score_nb201(arch, batch, ['zico'], seed=0)['zico'])
        secs.append(time.perf_counter() - start)
        if (i + 1) % 50 == 0:
            print(f'{i + 1}/{len(cells)} cells', flush=True)
    values = np.array(values)
    ok = np.isfinite(values)
    rho = float(spearmanr(values[ok], acc[ok])[0])
    report = {'n': len(cells), 'finite': int(ok.sum()), 'seed': args.seed, 'batch': 64, 'splits': ZICO_SPLITS,
              'threads': 1, 'load_average_before': load_before, 'load_average_after': os.getloadavg(),
              'spearman_cifar10_test': rho, 'published_spearman_cifar10': 0.80,
              'seconds_per_net_median': float(np.median(secs))}
    print(json.dumps(report, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == '__main__':
    main()
