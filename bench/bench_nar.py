"""NAR on NAS-Bench-201: ranking quality per train size, search queries against NNI's strategies, time per round.

Every benchmark lookup is a query (the ranker's training labels included). Prints tables, writes
bench/results/nar.json.
  python bench/bench_nar.py --benchmark ../shared/data/nb201_test_accuracy_200ep.csv \
      --proxy-table ../shared/data/nb201_zc_reference_cifar10.csv

With --ranking-variants it only compares rankers side by side on the same splits and writes
bench/results/nar_vs_rf.json: the few-label baseline of NAS-Bench-Suite-Zero / zc_combine (a random forest
on the 13 stored proxies), NAR, NAR + synflow and NASWOT, NAR + all 13 proxies (raw and binned), the forest on
proxies + cell encoding. Population: the 9,445 cells of the proxy table (train and test both drawn from
it); optionally also all 15,625 cells.
  python bench/bench_nar.py --ranking-variants

With --search-variants it only runs the NAR search with proxies read from the table, 2 (synflow, NASWOT) or the 13
stored ones, raw or binned (make_strategy('nar', proxy_bins=...)), and writes bench/results/nar_search_bins.json.
  python bench/bench_nar.py --search-variants
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
from nni_rank.cli.rank import evaluate_ranking, ranking_figures, split  # noqa: E402
from nni_rank.evaluators import BenchmarkEvaluator  # noqa: E402
from nni_rank.experiment import run_benchmark_search  # noqa: E402
from nni_rank.experiment.compare import queries_summary  # noqa: E402
from nni_rank.files import write_json  # noqa: E402
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


#: The 13 proxies stored in NAS-Bench-Suite-Zero's NB201 table (the random-forest baseline's inputs).
ZC13 = ['epe_nas', 'fisher', 'flops', 'grad_norm', 'grasp', 'jacov', 'l2_norm', 'nwot', 'params', 'plain', 'snip',
        'synflow', 'zen']
RF_ARGS = {'n_estimators': 100, 'random_state': None, 'n_jobs': 1}  # random_state = the split's seed


def proxy_population(table, archs, path) -> np.ndarray:
    """Row indices (into ``table``) of the cells the proxy table lists, checked against their arch strings."""
    import csv
    from nni_rank.spaces import NB201Arch
    with open(path, newline='') as f:
        rows = [(int(r['index']), r['arch_str']) for r in csv.DictReader(f)]
    index = np.array([i for i, _ in rows], dtype=np.int64)
    if len(set(index.tolist())) != len(index):
        raise ValueError(f'{path}: repeated index')
    for i, arch in rows:
        if NB201Arch.parse(archs[i]) != NB201Arch.from_str(arch):
            raise ValueError(f'{path}: index {i} is {arch}, the benchmark has {archs[i]}')
    return index


def bench_ranking_variants(table, proxy_table: str, sizes, seeds: int, bins: int, full_variants) -> dict:
    """Every ranker on the same seeded splits: ``split(len(population), N, seed)``, as evaluate_ranking draws them."""
    import sklearn
    from sklearn.ensemble import RandomForestRegressor
    archs = list(table.archs())
    X = NB201Encoder().encode(archs)
    y = table.values('cifar10')
    store2 = ProxyTable(proxy_table, ['synflow', 'naswot'])
    store13 = ProxyTable(proxy_table, ZC13)
    Z13 = store13.scores(archs)  # every cell maps to its canonical class's row
    if not np.isfinite(Z13).all():
        raise ValueError('some cells have no proxy values')
    nar_kwargs = {'nar': {}, 'nar+2': {'proxies': ['synflow', 'naswot'], 'proxy_store': store2},
                  'nar+13': {'proxies': ZC13, 'proxy_store': store13},
                  'nar+13-binned': {'proxies': ZC13, 'proxy_store': store13, 'proxy_bins': bins}}
    rf_inputs = {'rf13': Z13, 'rf13+enc': np.concatenate([Z13, X], axis=1)}

    def run(name, n, seed, population):
        if name in nar_kwargs:
            r = evaluate_ranking(table, 'cifar10', n, seed, features=X, population=population, **nar_kwargs[name])
            return {k: r[k] for k in ('kendall', 'spearman', 'fit_seconds', 'test_size')}
        train, test = split(len(population), n, seed)
        train, test = population[train], population[test]
        start = time.perf_counter()
        forest = RandomForestRegressor(**{**RF_ARGS, 'random_state': seed}).fit(rf_inputs[name][train], y[train])
        fit_seconds = time.perf_counter() - start
        r = ranking_figures(forest.predict(rf_inputs[name][test]), y[test])
        return {'kendall': r['kendall'], 'spearman': r['spearman'], 'fit_seconds': round(fit_seconds, 3),
                'test_size': int(len(test))}

    populations = {'proxy_table_9445': (proxy_population(table, archs, proxy_table),
                                        ['rf13', 'rf13+enc', 'nar', 'nar+2', 'nar+13', 'nar+13-binned'])}
    if full_variants:
        populations['all_15625'] = (np.arange(len(archs)), list(full_variants))
    out = {'population_note': 'proxy_table_9445: train and test both drawn from the 9,445 cells of the proxy table '
                              '(NAS-Bench-Suite-Zero, isomorphic duplicates removed); all_15625: all NB201 cells, '
                              'each with its canonical class\'s proxy values',
           'split': 'nni_rank.cli.rank.split(len(population), N, seed): the first N of a seeded permutation train, '
                    'all the others are the test set; the same split for every variant',
           'target': 'cifar10_test_acc (200 epochs)', 'proxies_13': ZC13, 'proxies_2': ['synflow', 'naswot'],
           'random_forest': {'class': 'sklearn.ensemble.RandomForestRegressor', **RF_ARGS,
                             'random_state': 'the split seed', 'other': 'sklearn defaults',
                             'sklearn': sklearn.__version__, 'inputs': 'raw stored proxy values'},
           'nar': 'NARPredictor defaults (K=5, 2x128 MLP, 200 epochs); with proxies: signed-log proxy columns and '
                  f'the compact second view, as evaluate_ranking; -binned: proxies as {bins} training-quantile '
                  'piecewise-linear bins (NARPredictor.bin_columns)',
           'sizes': list(sizes), 'seeds': list(range(seeds)), 'results': {}}
    for pop_name, (population, names) in populations.items():
        print(f"\nranking variants on {pop_name} ({len(population)} cells; median of {seeds} seeds): "
              "Kendall | Spearman | fit s", flush=True)
        res = out['results'][pop_name] = {'cells': int(len(population)), 'variants': {}}
        for n in sizes:
            runs = {name: [run(name, n, seed, population) for seed in range(seeds)] for name in names}
            for name in names:
                rs = runs[name]
                row = {'kendall': float(np.median([r['kendall'] for r in rs])),
                       'spearman': float(np.median([r['spearman'] for r in rs])),
                       'fit_seconds': float(np.median([r['fit_seconds'] for r in rs])),
                       'test_size': rs[0]['test_size'],
                       'raw_kendall': [r['kendall'] for r in rs], 'raw_spearman': [r['spearman'] for r in rs]}
                if name != 'rf13' and 'rf13' in runs:  # paired with the forest on the same split
                    diff = [r['kendall'] - b['kendall'] for r, b in zip(rs, runs['rf13'])]
                    row['vs_rf13'] = {'median_kendall_diff': float(np.median(diff)),
                                      'seeds_better': int(sum(d > 0 for d in diff)), 'seeds': len(diff)}
                res['variants'].setdefault(name, {})[n] = row
                paired = (f'  vs rf13 {row["vs_rf13"]["median_kendall_diff"]:+.3f} '
                          f'({row["vs_rf13"]["seeds_better"]}/{seeds})') if 'vs_rf13' in row else ''
                print(f'{name:14s} N={n:5d}  {row["kendall"]:.3f} | {row["spearman"]:.3f} | '
                      f'{row["fit_seconds"]:.2f}{paired}', flush=True)
    return out


#: How a search starts: the best accuracy among its first queries (NAR with proxies: its 8 warm-up cells).
FIRST = 8


def bench_search(table, strategies: dict[str, dict], seeds: int, budget: int) -> dict:
    evaluator = BenchmarkEvaluator(table, dataset='cifar10')
    optimum = table.top('cifar10')[0][1]
    top01 = table.threshold('cifar10', 0.001)
    out = {'optimum': optimum, 'top0.1%_threshold': top01, 'budget': budget, 'seeds': seeds, 'strategies': {}}
    print(f'\nsearch on NB201 cifar10: optimum {optimum}, top-0.1% {top01}; {seeds} seeds, budget {budget}')
    print(f'{"strategy":12s} {"to optimum median/worst/reached":32s} {"to top-0.1%":24s} s/run  s/round')
    for label, spec in strategies.items():
        to_opt, to_top, secs, rounds, start_best = [], [], [], [], []
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
            start_best.append(max((v for _, v in res.history[:FIRST] if v is not None), default=float('nan')))
            if spec['name'] == 'nar':
                rounds += strategy.search.round_seconds
        o, t = queries_summary(to_opt, budget), queries_summary(to_top, budget)
        row = {'to_optimum': o, 'to_top0.1%': t, 'seconds_per_run': float(np.mean(secs)),
               'raw_to_optimum': to_opt, 'raw_to_top0.1%': to_top, 'options': spec.get('options', {}),
               f'best_of_first_{FIRST}': float(np.nanmedian(start_best)), f'raw_best_of_first_{FIRST}': start_best}
        if rounds:
            row['seconds_per_round'] = {'mean': float(np.mean(rounds)), 'median': float(np.median(rounds)),
                                        'max': float(np.max(rounds)), 'rounds': len(rounds)}
        out['strategies'][label] = row
        per_round = f'{np.mean(rounds):.3f}' if rounds else '-'
        print(f'{label:12s} {o["median"]:7.1f} / {o["worst"]:5d} / {o["reached"]:2d} of {o["runs"]:<8d}'
              f' {t["median"]:7.1f} / {t["worst"]:5d} / {t["reached"]:2d}   {np.mean(secs):6.2f}  {per_round}',
              flush=True)
    return out


def search_variants(proxy_table: str, bins: int) -> dict[str, dict]:
    """The NAR search settings of --search-variants: today's 2 proxies, the 13 stored proxies raw and binned."""
    two = {'proxies': ['synflow', 'naswot'], 'proxy_table': proxy_table}
    all13 = {'proxies': ZC13, 'proxy_table': proxy_table}
    return {'nar+2': {'name': 'nar', 'options': two}, 'nar+13': {'name': 'nar', 'options': all13},
            f'nar+13-binned{bins}': {'name': 'nar', 'options': {**all13, 'proxy_bins': bins}}}


def _write_report(path: str, report: dict, start: float) -> None:
    report['seconds'] = time.perf_counter() - start
    print(f'written to {write_json(path, report)} ({report["seconds"]:.0f} s)')


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
    p.add_argument('--ranking-variants', action='store_true',
                   help='only compare rankers (random forest on the 13 stored proxies, NAR with 0/2/13 proxies) on '
                        'the same splits of the proxy table\'s cells; writes --variants-out')
    p.add_argument('--variant-sizes', default='50,100,500,1000')
    p.add_argument('--variant-seeds', type=int, default=10)
    p.add_argument('--variant-bins', type=int, default=8, help='quantile bins of the nar+13-binned variant')
    p.add_argument('--variant-full', default='nar,nar+2,nar+13,nar+13-binned,rf13',
                   help="variants also run on all 15,625 cells ('' for none)")
    p.add_argument('--variants-out', default='bench/results/nar_vs_rf.json')
    p.add_argument('--search-variants', action='store_true',
                   help='only run the NAR search with 2 or 13 table proxies, raw and binned (--variant-bins), '
                        '--search-seeds seeds, --search-variants-budget queries; writes --search-variants-out')
    p.add_argument('--search-variants-budget', type=int, default=300)
    p.add_argument('--search-variants-out', default='bench/results/nar_search_bins.json')
    args = p.parse_args()
    torch.set_num_threads(1)
    table = open_benchmark(args.benchmark)
    if args.ranking_variants:
        if not args.proxy_table:
            raise SystemExit('--ranking-variants needs --proxy-table')
        start = time.perf_counter()
        report = {'benchmark': args.benchmark, 'proxy_table': args.proxy_table,
                  'cpu_threads': torch.get_num_threads(),
                  **bench_ranking_variants(table, args.proxy_table, [int(s) for s in args.variant_sizes.split(',') if s],
                                           args.variant_seeds, args.variant_bins,
                                           [v for v in args.variant_full.split(',') if v])}
        _write_report(args.variants_out, report, start)
        return
    if args.search_variants:
        if not args.proxy_table:
            raise SystemExit('--search-variants needs --proxy-table')
        start = time.perf_counter()
        report = {'benchmark': args.benchmark, 'proxy_table': args.proxy_table, 'cpu_threads': torch.get_num_threads(),
                  'note': 'queries to reach the cifar10 test optimum / top-0.1% (misses count as budget + 1); NAR '
                          'stops at the optimum (stop_at), which leaves the queries until then unchanged',
                  'search': bench_search(table, search_variants(args.proxy_table, args.variant_bins),
                                         args.search_seeds, args.search_variants_budget)}
        _write_report(args.search_variants_out, report, start)
        return
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
    _write_report(args.out, report, start)


if __name__ == '__main__':
    main()
