"""A trained supernet inside search: zc-rea / zc-random with and without supernet re-ranking, on the NB201 table.

Without: the zero-cost strategies ordered by a proxy (synflow, read from the NAS-Bench-Suite-Zero
reference table, isomorphism-class mean for the cells it lacks).  With: the same strategies whose
scorer is :class:`nni_rank.supernet.scorer.SupernetScorer` (``base`` = that proxy): in every ordering
the proxy's ``--rerank`` best candidates are re-ordered by the supernet's inherited-weight accuracy.
Every table lookup is a query; proxy and supernet scores are not (their seconds are recorded).
Metric: queries to the CIFAR-10 optimum and to the top-0.1%, per seed, median over seeds.  Control:
``+shuffled-head`` shuffles the same head at random (is it the supernet or any re-ordering that helps?).

  python bench/bench_rdnas_search.py --load /tmp/rdnas_ckpt/cpu-C8-n1-16px-e10_rdnas-flops_seed0.pt
Writes bench/results/rdnas_search.json (one entry per checkpoint).
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings('ignore')
DATA = os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data')


class ShuffledHead:
    """Control: the proxy's order with its ``rerank`` best candidates shuffled (re-ranking without information)."""

    def __init__(self, base, rerank: int, seed: int = 0):
        self.base, self.rerank, self.rng = base, rerank, np.random.default_rng(seed)

    def order(self, samples, model_space=None) -> np.ndarray:
        order = np.asarray(self.base.order(samples, model_space))
        return np.concatenate([self.rng.permutation(order[:self.rerank]), order[self.rerank:]])


def summary(values: list[int | None], budget: int) -> dict:
    reached = [v for v in values if v is not None]
    filled = [budget + 1 if v is None else v for v in values]
    return {'median': float(np.median(filled)), 'mean': float(np.mean(filled)), 'reached': len(reached),
            'runs': len(values), 'raw': values}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--load', required=True, help='supernet checkpoint (bench_rdnas_cifar.py --save-dir)')
    p.add_argument('--data-dir', default=DATA)
    p.add_argument('--proxy', default='synflow')
    p.add_argument('--proxy-table', default=None, help='default: DATA/nb201_zc_reference_cifar10.csv')
    p.add_argument('--strategies', nargs='+', default=['zc-rea', 'zc-random'], choices=['zc-rea', 'zc-random'])
    p.add_argument('--rerank', type=int, default=5)
    p.add_argument('--held-out', type=int, default=500, help='held-out images per subnet score')
    p.add_argument('--seeds', type=int, default=10)
    p.add_argument('--budget', type=int, default=100)
    p.add_argument('--pool-size', type=int, default=1000)
    p.add_argument('--out', default='bench/results/rdnas_search.json')
    args = p.parse_args()

    from nni_rank.benchmarks import open_benchmark
    from nni_rank.evaluators import BenchmarkEvaluator
    from nni_rank.experiment import run_benchmark_search
    from nni_rank.proxies.scorer import ProxyScorer
    from nni_rank.runtime import set_threads
    from nni_rank.strategies.zero_cost import ZeroCostEvolution, ZeroCostRandom
    from nni_rank.supernet import calibration_batches, held_out_batches, load_data, load_supernet
    from nni_rank.supernet.scorer import SupernetScorer
    set_threads(1)
    table = open_benchmark(str(Path(args.data_dir) / 'nb201_test_accuracy_200ep.csv'))
    optimum, top01 = table.top('cifar10')[0][1], table.threshold('cifar10', 0.001)
    net, cfg = load_supernet(args.load)
    train, test, _ = load_data(cfg.dataset, args.data_dir, cfg.image_size)
    calib = calibration_batches(train, 2, 64, seed=0)
    test.tensors = tuple(t[:args.held_out] for t in test.tensors)
    held = held_out_batches(test)
    proxy_table = args.proxy_table or str(Path(args.data_dir) / 'nb201_zc_reference_cifar10.csv')
    base = ProxyScorer(args.proxy, table=proxy_table, exact_table=False)
    supernet = SupernetScorer(net, calib, held, base=base, rerank=args.rerank)  # one cache for every seed
    evaluator = BenchmarkEvaluator(table, dataset='cifar10')
    make = {'zc-rea': lambda seed, scorer: ZeroCostEvolution(pool_size=args.pool_size, seed=seed, scorer=scorer),
            'zc-random': lambda seed, scorer: ZeroCostRandom(pool_size=args.pool_size, seed=seed, scorer=scorer)}
    results = {}
    for name in args.strategies:
        for label in (name, f'{name}+shuffled-head', f'{name}+supernet'):
            to_opt, to_top, start = [], [], time.perf_counter()
            for seed in range(args.seeds):
                scorer = {name: base, f'{name}+supernet': supernet}.get(label) or ShuffledHead(base, args.rerank, seed)
                res = run_benchmark_search(make[name](seed, scorer), evaluator, args.budget, seed=seed)
                to_opt.append(res.queries_to_reach(optimum))
                to_top.append(res.queries_to_reach(top01))
            results[label] = {'to_optimum': summary(to_opt, args.budget), 'to_top0.1%': summary(to_top, args.budget),
                              'seconds': time.perf_counter() - start}
            print(f"{label:20s} queries to optimum: median {results[label]['to_optimum']['median']:.1f} "
                  f"({results[label]['to_optimum']['reached']}/{args.seeds} reached), to top-0.1%: median "
                  f"{results[label]['to_top0.1%']['median']:.1f}; {results[label]['seconds']:.0f} s", flush=True)
    out = Path(args.out)
    report = json.loads(out.read_text()) if out.exists() else {}
    report[Path(args.load).stem] = {
        'checkpoint_config': cfg.to_json(), 'proxy': args.proxy, 'proxy_table': proxy_table, 'rerank': args.rerank,
        'held_out_images': len(test), 'seeds': args.seeds, 'budget': args.budget, 'pool_size': args.pool_size,
        'optimum': optimum, 'top01_threshold': top01, 'subnets_scored': len(supernet.cache), 'strategies': results}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f'written to {out}')


if __name__ == '__main__':
    main()
