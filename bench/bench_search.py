"""Queries to the NB201 optimum and to the top-0.1% for NNI's built-in strategies on the benchmark table.

Every lookup is a query. Prints a table and writes bench/results/search.json.
  python bench/bench_search.py --benchmark ../shared/data/nb201_test_accuracy_200ep.csv --seeds 20 --budget 1000
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')

from nni_rank.benchmarks import open_benchmark  # noqa: E402
from nni_rank.evaluators import BenchmarkEvaluator  # noqa: E402
from nni_rank.experiment import run_benchmark_search  # noqa: E402
from nni_rank.experiment.compare import queries_summary  # noqa: E402
from nni_rank.strategies import make_strategy  # noqa: E402



def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--benchmark', default='../shared/data/nb201_test_accuracy_200ep.csv')
    p.add_argument('--dataset', default='cifar10')
    p.add_argument('--strategies', default='random,rea,tpe')
    p.add_argument('--seeds', type=int, default=20)
    p.add_argument('--budget', type=int, default=1000)
    p.add_argument('--out', default='bench/results/search.json')
    args = p.parse_args()
    table = open_benchmark(args.benchmark)
    evaluator = BenchmarkEvaluator(table, dataset=args.dataset)
    optimum = table.top(args.dataset)[0][1]
    top01 = table.threshold(args.dataset, 0.001)
    report = {'benchmark': args.benchmark, 'dataset': args.dataset, 'optimum': optimum, 'top0.1%_threshold': top01,
              'seeds': args.seeds, 'budget': args.budget, 'strategies': {}}
    print(f'{args.dataset}: optimum {optimum}, top-0.1% threshold {top01}; {args.seeds} seeds, budget {args.budget}')
    print(f'{"strategy":10s} {"to optimum (median/worst/reached)":36s} {"to top-0.1%":28s} s/run')
    for name in args.strategies.split(','):
        to_opt, to_top, secs = [], [], []
        for seed in range(args.seeds):
            start = time.perf_counter()
            res = run_benchmark_search(make_strategy(name, seed=seed), evaluator, args.budget, seed=seed, name=name)
            secs.append(time.perf_counter() - start)
            to_opt.append(res.queries_to_reach(optimum))
            to_top.append(res.queries_to_reach(top01))
        o, t = queries_summary(to_opt, args.budget), queries_summary(to_top, args.budget)
        report['strategies'][name] = {'to_optimum': o, 'to_top0.1%': t, 'seconds_per_run': float(np.mean(secs)),
                                      'raw_to_optimum': to_opt, 'raw_to_top0.1%': to_top}
        print(f'{name:10s} {o["median"]:7.1f} / {o["worst"]:5d} / {o["reached"]:2d} of {o["runs"]:<12d}'
              f' {t["median"]:7.1f} / {t["worst"]:5d} / {t["reached"]:2d}      {np.mean(secs):.2f}')
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
