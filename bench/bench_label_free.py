"""Label-free zero-cost scores on NAS-Bench-201: AZ-NAS's components and the ``zc_ensemble`` combination.

    python bench/bench_label_free.py --data /work/shared/data            # compute (resumable), then report
    python bench/bench_label_free.py --data /work/shared/data --no-compute

* cells: the 1,000 seeded uniform NB201 cells of ``bench/results/proxies.json`` (drawn there with
  ``numpy.random.default_rng(0)`` without replacement), whose values of the older proxies (jacob_cov,
  naswot, synflow, params, flops...) are reused; the same networks (PyTorch default init, seed = NB201
  index) on the same real CIFAR-10 minibatch (64 images of ``cifar10_train_10k.bin``, seed 0, crop + flip);
* the new components (``--names``) are computed one cell at a time, one process, one torch thread, and
  cached with their seconds per cell in ``--cache`` (a CSV outside the repo; rerunning resumes);
* every component and combination: Spearman / Kendall with CIFAR-10 test, CIFAR-100 test and CIFAR-10
  validation accuracy (200 epochs), on the whole sample (an estimate of the all-15,625 figure, with a
  bootstrap 95% interval) and on its cells among the 9,445 de-duplicated ones of
  ``nb201_zc_reference_cifar10.csv``;
* combinations chosen WITHOUT test labels: AZ-NAS's published rule (sum of log ranks) fixed in advance,
  and the weights of ``zc_ensemble`` chosen on CIFAR-10 *validation* accuracy (a different training run
  and split than the test figures reported) -- see ``choose_on_validation``.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NEW = ['az_expressivity', 'az_progressivity', 'az_trainability']
OLD = ['jacob_cov', 'naswot', 'synflow', 'snip', 'grad_norm', 'params', 'flops']
#: Published Spearman over all 15,625 NB201 cells (C10, C100, ImageNet16-120).
PUBLISHED = {
    'AZ-NAS (Lee & Ham, CVPR 2024)': {'c10': 0.913, 'c100': None, 'imagenet16': None},
    'VKDNW_agg (Tybl & Neumann, CVPR 2025)': {'c10': 0.919, 'c100': 0.919, 'imagenet16': 0.906},
}


def compute(args) -> None:
    import torch
    from nni_rank.proxies import compute_proxies, nb201_network, proxy_batch
    torch.set_num_threads(1)
    warnings.simplefilter('ignore')
    archs = json.loads(Path(args.proxies_json).read_text())['archs'][:args.n]
    names = args.names.split(',')
    cache = Path(args.cache)
    done = set()
    if cache.exists():
        with cache.open() as f:
            done = {int(r['index']) for r in csv.DictReader(f)}
    batch, _, _ = proxy_batch(Path(args.data) / 'cifar10_train_10k.bin', 64, 0)
    new_file = not cache.exists()
    with cache.open('a', newline='') as f:
        w = csv.writer(f)
        if new_file:
            w.writerow(['index', 'arch_str', *names, 'seconds'])
        for k, a in enumerate(archs):
            if a['index'] in done:
                continue
            net = nb201_network(a['arch_str'], seed=a['index'])
            t = time.perf_counter()
            vals = compute_proxies(net, batch, names, seed=a['index'], warn=False)
            w.writerow([a['index'], a['arch_str'], *[vals[n] for n in names], time.perf_counter() - t])
            f.flush()
            if k % 50 == 0:
                print(f'{k}/{len(archs)}', flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '/work/shared/data'))
    ap.add_argument('--proxies-json', default='bench/results/proxies.json')
    ap.add_argument('--cache', default='/tmp/nni_rank_label_free_components.csv')
    ap.add_argument('--names', default=','.join(NEW))
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--no-compute', action='store_true')
    ap.add_argument('--out', default='bench/results/label_free.json')
    args = ap.parse_args()
    if not args.no_compute:
        compute(args)


if __name__ == '__main__':
    main()
