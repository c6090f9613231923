"""NAR on NAS-Bench-201: ranking quality per train size, search queries against NNI's strategies, time per round.

Every benchmark lookup is a query (the ranker's training labels included). Prints tables, writes
bench/results/nar.json.
  python bench/bench_nar.py --benchmark ../shared/data/nb201_test_accuracy_200ep.csv \
      --proxy-table ../shared/data/nb201_zc_reference_cifar10.csv
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')

from nni_rank.benchmarks import open_benchmark  # noqa: E402
from nni_rank.cli.rank import evaluate_ranking  # noqa: E402
from nni_rank.evaluators import BenchmarkEvaluator  # noqa: E402
from nni_rank.experiment import run_benchmark_search  # noqa: E402
from nni_rank.experiment.compare import queries_summary  # noqa: E402
from nni_rank.predictors import NB201Encoder, ProxyTable  # noqa: E402
from nni_rank.strategies import make_strategy  # noqa: E402



def bench_ranking(table, sizes, seeds, variants: dict[str, dict]) -> dict:
    out = {}
    print(f"\nranking on NB201 (train on N, test on all others; median of {seeds} seeds): Kendall's tau "
          "cifar10 | cifar100 transfer | top-1% precision | fit s")
    for name, kwargs in variants.items():
        out[name] = {}
        for n in sizes:
            runs = [evaluate_ranking(table, 'cifar10', n, seed, transfer_dataset='cifar100', **kwargs)
                    for seed in range(seeds)]
            med = lambda key, sub=None: float(np.median([r[sub][key] if sub else r[key] for r in runs]))  # noqa: E731
            out[name][n] = {'kendall': med('kendall'), 'spearman': med('spearman'),
                            'top1pct_precision': med('top1pct_precision'),
                            'transfer_cifar100_kendall': med('kendall', 'transfer'),
                            'transfer_cifar100_spearman': med('spearman', 'transfer'),
                            'fit_seconds': med('fit_seconds'), 'test_size': runs[0]['test_size'],
                            'raw_kendall': [r['kendall'] for r in runs]}
            r = out[name][n]
            print(f'{name:12s} N={n:5d}  {r["kendall"]:.3f} | {r["transfer_cifar100_kendall"]:.3f} | '
                  f'{r["top1pct_precision"]:.3f} | {r["fit_seconds"]:.2f}', flush=True)
    return out


def bench_search(table, strategies: dict[str, dict], seeds: int, budget: int) -> dict:
    evaluator = BenchmarkEvaluator(table, dataset='cifar10')
    optimum = table.top('cifar10')[0][1]
    top01 = table.threshold('cifar10', 0.001)
    out = {'optimum': optimum, 'top0.1%_threshold': top01, 'budget': budget, 'seeds': seeds, 'strategies': {}}
    print(f'\nsearch on NB201 cifar10: optimum {optimum}, top-0.1% {top01}; {seeds} seeds, budget {budget}')
    print(f'{"strategy":12s} {"to optimum median/worst/reached":32s} {"to top-0.1%":24s} s/run  s/round')
    for label, spec in strategies.items():
        to_opt, to_top, secs, rounds = [], [], [], []
        for seed in range(seeds):
            opts = dict(spec.get('options', {}))
            if spec['name'] == 'nar':
                opts['stop_at'] = optimum  # saves time only: the queries until the optimum are unchanged
            strategy = make_strategy(spec['name'], seed=seed, **opts)
            start = time.perf_counter()
            res = run_benchmark_search(strategy, evaluator, budget, seed=seed, name=label)
            secs.append(time.perf_counter() - start)
            to_opt.append(res.queries_to_reach(optimum))
            to_top.append(res.queries_to_reach(top01))
            if spec['name'] == 'nar':
                rounds += strategy.search.round_seconds
        o, t = queries_summary(to_opt, budget), queries_summary(to_top, budget)
        row = {'to_optimum': o, 'to_top0.1%': t, 'seconds_per_run': float(np.mean(secs)),
               'raw_to_optimum': to_opt, 'raw_to_top0.1%': to_top, 'options': spec.get('options', {})}
        if rounds:
            row['seconds_per_round'] = {'mean': float(np.mean(rounds)), 'median': float(np.median(rounds)),
                                        'max': float(np.max(rounds)), 'rounds': len(rounds)}
        out['strategies'][label] = row
        per_round = f'{np.mean(rounds):.3f}' if rounds else '-'
        print(f'{label:12s} {o["median"]:7.1f} / {o["worst"]:5d} / {o["reached"]:2d} of {o["runs"]:<8d}'
              f' {t["median"]:7.1f} / {t["worst"]:5d} / {t["reached"]:2d}   {np.mean(secs):6.2f}  {per_round}',
              flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--benchmark', default='../shared/data/nb201_test_accuracy_200ep.csv')
    p.add_argument('--proxy-table', default='../shared/data/nb201_zc_reference_cifar10.csv',
                   help='reference zero-cost proxy values (NAS-Bench-Suite-Zero CSV); empty to skip proxies')
    p.add_argument('--proxies', default='synflow,naswot')
    p.add_argument('--sizes', default='50,100,500,1000', help="labelled set sizes; '' to only re-run the searches")
    p.add_argument('--rank-seeds', type=int, default=10)
    p.add_argument('--search-seeds', type=int, default=20)
    p.add_argument('--budget', type=int, default=1000)
    p.add_argument('--baselines', default='random,rea,tpe')
    p.add_argument('--out', default='bench/results/nar.json')
    args = p.parse_args()
    torch.set_num_threads(1)
    table = open_benchmark(args.benchmark)
    archs = list(table.archs())
    X = NB201Encoder().encode(archs)
    variants = {'nar': {'features': X}, 'nar-no-paths': {'features': NB201Encoder(paths=False).encode(archs)}}
    strategies = {'nar': {'name': 'nar'}}
    proxies = [n for n in args.proxies.split(',') if n]
    if args.proxy_table:
        store = ProxyTable(args.proxy_table, proxies)
        variants['nar+proxies'] = {'features': X, 'proxies': proxies, 'proxy_store': store,
                                   'test_limit': len(archs)}
        strategies['nar+proxies'] = {'name': 'nar', 'options': {'proxies': proxies, 'proxy_table': args.proxy_table}}
    for name in filter(None, args.baselines.split(',')):
        strategies[name] = {'name': name}
    start = time.perf_counter()
    report = {'benchmark': args.benchmark, 'proxy_table': args.proxy_table, 'proxies': proxies,
              'cpu_threads': torch.get_num_threads(),
              'search': bench_search(table, strategies, args.search_seeds, args.budget)}
    sizes = [int(s) for s in args.sizes.split(',') if s]
    if sizes:
        report['ranking'] = bench_ranking(table, sizes, args.rank_seeds, variants)
    elif Path(args.out).is_file():  # --sizes '': search only; keep the ranking figures already measured
        report['ranking'] = json.loads(Path(args.out).read_text()).get('ranking')
    report['seconds'] = time.perf_counter() - start
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out} ({report["seconds"]:.0f} s)')


if __name__ == '__main__':
    main()
