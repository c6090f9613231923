"""alpha-NAS on the NB201 table: queries to the optimum / top-0.1% against NNI's rea and random, the size of
the abstract space, and synthesis time per call. Writes bench/results/alpha_nas.json.

  python bench/bench_alpha_nas.py --benchmark ../shared/data/nb201_test_accuracy_200ep.csv --seeds 20 --budget 2000

Every benchmark lookup is a query; a run that never reaches a threshold counts as budget + 1.
Ablations: ``alpha-nas-concrete`` is the same evolution, dedup and initial population, but each child is a
uniformly random one-edge edit of its parent (no property guidance); ``alpha-nas-random-init`` draws the
first population uniformly over cells instead of over property vectors. (Defaults were chosen on seeds
100-119, not on the reported seeds 0-19.)
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

warnings.filterwarnings('ignore')


from nni_rank.benchmarks import open_benchmark  # noqa: E402
from nni_rank.evaluators import BenchmarkEvaluator  # noqa: E402
from nni_rank.experiment import run_benchmark_search  # noqa: E402
from nni_rank.experiment.compare import queries_summary  # noqa: E402
from nni_rank.properties import NB201Properties, Unsatisfiable, property_table, synthesize  # noqa: E402
from nni_rank.strategies import make_strategy  # noqa: E402
from nni_rank.strategies.alpha_nas import AlphaNas  # noqa: E402


class _OneEdgeMutator:
    """Ablation: a random single-edge change to a not-yet-queried class (what REA does, with the same dedup)."""

    def __init__(self, rng, table):
        self.rng, self.table = rng, table

    def mutate_arch(self, parent, exclude=None):
        for edge in self.rng.permutation(6):
            try:
                return synthesize(NB201Properties(), parent, edges=[int(edge)], max_changes=1, exclude=exclude,
                                  rng=self.rng, table=self.table).arch
            except Unsatisfiable:
                continue
        raise Unsatisfiable(f'every one-edge neighbour of {parent} was queried')


def make(name: str, seed: int):
    if name == 'alpha-nas-concrete':
        strategy = AlphaNas(seed=seed)
        strategy.search.mutator = _OneEdgeMutator(strategy.search.rng, strategy.search.table)
        return strategy
    if name == 'alpha-nas-random-init':
        return AlphaNas(seed=seed, init='random')
    return make_strategy(name, seed=seed)


def synthesis_timing(calls: int, seed: int = 0) -> dict:
    table = property_table()
    rng = np.random.RandomState(seed)
    pairs = [(table.props[rng.randint(len(table))].replace(pairs=None), table.archs[rng.randint(len(table))])
             for _ in range(calls)]
    out = {}
    for method, n in (('table', calls), ('enumerate', max(1, calls // 10))):
        unsat = 0
        start = time.perf_counter()
        for target, arch in pairs[:n]:
            try:
                synthesize(target, arch, rng=rng, method=method, table=table)
            except Unsatisfiable:
                unsat += 1
        out[method] = {'ms_per_call': 1000 * (time.perf_counter() - start) / n, 'calls': n, 'unsatisfiable': unsat}
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--benchmark', default='../shared/data/nb201_test_accuracy_200ep.csv')
    p.add_argument('--dataset', default='cifar10')
    p.add_argument('--strategies', default='alpha-nas,rea,random,alpha-nas-concrete,alpha-nas-random-init')
    p.add_argument('--seeds', type=int, default=20)
    p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--budget', type=int, default=2000)
    p.add_argument('--synthesis-calls', type=int, default=1000)
    p.add_argument('--out', default='bench/results/alpha_nas.json')
    args = p.parse_args()
    torch.set_num_threads(1)

    start = time.perf_counter()
    table = property_table()
    build_s = time.perf_counter() - start
    space = {'concrete_cells': len(table), 'distinct_functions': int(len(np.unique(table.canonical_row))),
             'abstract_space': table.abstract_space_size(),
             'abstract_space_with_pairs': table.abstract_space_size(True),
             'property_table_build_s': build_s}
    timing = synthesis_timing(args.synthesis_calls)
    print(f'abstract space: {space["abstract_space"]} property vectors ({space["abstract_space_with_pairs"]} with '
          f'per-pair depth) vs {space["concrete_cells"]} cells / {space["distinct_functions"]} distinct functions')
    print(f'synthesis: {timing["table"]["ms_per_call"]:.2f} ms/call (table), '
          f'{timing["enumerate"]["ms_per_call"]:.2f} ms/call (enumeration); table built in {build_s:.2f} s')

    bench = open_benchmark(args.benchmark)
    evaluator = BenchmarkEvaluator(bench, dataset=args.dataset)
    optimum = bench.top(args.dataset)[0][1]
    top01 = bench.threshold(args.dataset, 0.001)
    report = {'benchmark': args.benchmark, 'dataset': args.dataset, 'optimum': optimum, 'top0.1%_threshold': top01,
              'seeds': args.seeds, 'first_seed': args.first_seed, 'budget': args.budget, 'space': space,
              'synthesis': timing, 'strategies': {}}
    print(f'{args.dataset}: optimum {optimum}, top-0.1% threshold {top01}; {args.seeds} seeds, budget {args.budget}')
    print(f'{"strategy":22s} {"to optimum (median/worst/reached)":36s} {"to top-0.1%":28s} s/run')
    for name in args.strategies.split(','):
        to_opt, to_top, secs = [], [], []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            t0 = time.perf_counter()
            res = run_benchmark_search(make(name, seed), evaluator, args.budget, seed=seed, name=name)
            secs.append(time.perf_counter() - t0)
            to_opt.append(res.queries_to_reach(optimum))
            to_top.append(res.queries_to_reach(top01))
        o, t = queries_summary(to_opt, args.budget), queries_summary(to_top, args.budget)
        report['strategies'][name] = {'to_optimum': o, 'to_top0.1%': t, 'seconds_per_run': float(np.mean(secs)),
                                      'raw_to_optimum': to_opt, 'raw_to_top0.1%': to_top}
        print(f'{name:22s} {o["median"]:7.1f} / {o["worst"]:5d} / {o["reached"]:2d} of {o["runs"]:<12d}'
              f' {t["median"]:7.1f} / {t["worst"]:5d} / {t["reached"]:2d}      {np.mean(secs):.2f}', flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
