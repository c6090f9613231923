"""Zero-cost-enhanced search on the NB201 table, and synflow over the whole space.

1. synflow, params and flops of all 15,625 NB201 cells (init seed 0) through the on-disk
   ``ProxyStore`` cache: seconds and architectures per second (target: synflow over all in < 10 min
   on 2 cores), and Spearman's rho against CIFAR-10/100 test accuracy over all 15,625
   (published synflow: 0.737 / 0.763).
2. zc-rea (warm-up + move proposal), zc-random (warm-up pool in proxy order) against NNI's rea and
   random on the same table, 20 seeds: queries to the CIFAR-10 top-0.1% (>= 16th best) and to the
   optimum. Every table lookup is a query; proxy scores are not. ``zc-rea-tuner`` in --strategies runs
   the nnictl tuner (``ZcREATuner``) through NNI's tuner protocol on the same table.

    python bench/bench_zc_search.py --data ../shared/data --seeds 20 --budget 1000
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings('ignore')

NAMES = ['synflow', 'params', 'flops']
SPACE = json.loads((Path(__file__).resolve().parents[1] / 'config_yaml' / 'nb201_search_space.json').read_text())
PUBLISHED_ALL = {'synflow': (0.737, 0.763)}
#: Spearman with C10 test accuracy published for NAS-Bench-Suite-Zero's values on its 9,445 archs.
PUBLISHED_9445 = {'synflow': 0.78, 'params': 0.80, 'flops': 0.77}


def _score_chunk(archs: list[str]) -> np.ndarray:
    import torch
    torch.set_num_threads(1)
    from nni_rank.proxies import ProxyStore
    return ProxyStore(NAMES, seed=0).scores(archs)


def fill_cache(archs: list[str], cache_dir: Path, workers: int) -> tuple[np.ndarray, float, int]:
    """Scores of every arch (computed in ``workers`` processes where the cache lacks them)."""
    import multiprocessing as mp

    from nni_rank.proxies import ProxyStore
    store = ProxyStore(NAMES, seed=0, cache_dir=cache_dir)
    missing = [a for a in archs if a not in store._values]
    seconds = 0.0
    if missing:
        chunks = [missing[i:i + 250] for i in range(0, len(missing), 250)]
        start = time.perf_counter()
        with ProcessPoolExecutor(workers, mp_context=mp.get_context('spawn')) as pool:
            for done, (chunk, values) in enumerate(zip(chunks, pool.map(_score_chunk, chunks)), 1):
                store._values.update({a: dict(zip(NAMES, map(float, v))) for a, v in zip(chunk, values)})
                store._append_cache([(a, store._values[a]) for a in chunk])
                print(f'  scored {min(done * 250, len(missing))} / {len(missing)} ({time.perf_counter() - start:.0f} s)', flush=True)
        seconds = time.perf_counter() - start
    return store.scores(archs), seconds, len(missing)


def tuner_search(table, dataset: str, seed: int, budget: int, cache_dir: str, pool_size: int) -> list[float]:
    """Accuracies in query order of ``ZcREATuner`` driven through NNI's tuner calls on the table."""
    from nni_rank.tuners import ZcREATuner
    tuner = ZcREATuner(seed=seed, cache_dir=cache_dir, pool_size=pool_size)
    tuner.update_search_space(SPACE)
    accs = []
    for pid in range(budget):
        params = tuner.generate_parameters(pid)
        accs.append(table.accuracy(params, dataset))
        tuner.receive_trial_result(pid, params, accs[-1])
        tuner.trial_end(pid, True)
    return accs


def first_reach(accs: list[float], threshold: float) -> int | None:
    return next((i + 1 for i, a in enumerate(accs) if a >= threshold), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data'))
    ap.add_argument('--cache-dir', default='bench/results/cache')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--seeds', type=int, default=20)
    ap.add_argument('--budget', type=int, default=1000)
    ap.add_argument('--pool-size', type=int, default=1000)
    ap.add_argument('--strategies', default='zc-rea,zc-rea-tuner,zc-random,rea,random')
    ap.add_argument('--dataset', default='cifar10', help='table column the searches maximise')
    ap.add_argument('--out', default='bench/results/zc_search.json')
    args = ap.parse_args()

    from scipy.stats import spearmanr

    from nni_rank.benchmarks import open_benchmark
    from nni_rank.evaluators import BenchmarkEvaluator
    from nni_rank.experiment import run_benchmark_search
    from nni_rank.experiment.compare import queries_summary
    from nni_rank.proxies import ProxyScorer
    from nni_rank.strategies import make_strategy

    csv = Path(args.data) / 'nb201_test_accuracy_200ep.csv'
    table = open_benchmark(csv)
    archs = [a.to_str() for a in table.archs()]
    valid_csv = Path(args.data) / 'nb201_valid_accuracy_200ep.csv'
    valid = open_benchmark(valid_csv) if valid_csv.is_file() else None
    values, seconds, computed = fill_cache(archs, Path(args.cache_dir), args.workers)
    report = {'space_size': len(archs), 'cache_dir': args.cache_dir, 'proxies_all': {}}
    if computed:
        report['throughput'] = {'archs': computed, 'seconds': seconds, 'archs_per_s': computed / seconds,
                                'workers': args.workers, 'proxies': NAMES, 'build_included': True}
        print(f'{"+".join(NAMES)} of {computed} NB201 cells in {seconds:.0f} s ({computed / seconds:.1f} archs/s, '
              f'{args.workers} processes)')
    for i, n in enumerate(NAMES):
        row = {d: float(spearmanr(values[:, i], [table.accuracy(a, d) for a in archs], nan_policy='omit')[0])
               for d in ('cifar10', 'cifar100')}
        if valid is not None:  # the zero-cost paper's C10 figure is on the cifar10-valid split
            row.update({f'{d}_valid': float(spearmanr(values[:, i], [valid.accuracy(a, d) for a in archs],
                                                      nan_policy='omit')[0]) for d in ('cifar10', 'cifar100')})
        ref_csv = Path(args.data) / 'nb201_zc_reference_cifar10.csv'
        if ref_csv.is_file():  # the 9,445 de-duplicated cells of NAS-Bench-Suite-Zero
            import pandas as pd
            ref_archs = set(pd.read_csv(ref_csv)['arch_str'])
            keep = np.array([a in ref_archs for a in archs])
            acc = np.array([table.accuracy(a, 'cifar10') for a in archs])
            row['cifar10_on_9445'] = float(spearmanr(values[keep, i], acc[keep])[0])
            row['published_on_9445'] = PUBLISHED_9445.get(n)
        row['published'] = PUBLISHED_ALL.get(n)
        report['proxies_all'][n] = row
        print(f'{n:8s} Spearman over all {len(archs)}: C10 {row["cifar10"]:.3f}  C100 {row["cifar100"]:.3f}'
              f'  C10-valid {row.get("cifar10_valid", float("nan")):.3f}  C100-valid '
              f'{row.get("cifar100_valid", float("nan")):.3f}  (published C10/C100 {row["published"]})  '
              f'on the 9,445: {row.get("cifar10_on_9445", float("nan")):.3f} (published {row.get("published_on_9445")})')

    evaluator = BenchmarkEvaluator(table, dataset=args.dataset)
    optimum, top01 = table.top(args.dataset)[0][1], table.threshold(args.dataset, 0.001)
    report.update(dataset=args.dataset, optimum=optimum, top01_threshold=top01, seeds=args.seeds, budget=args.budget,
                  pool_size=args.pool_size, strategies={})
    scorer = ProxyScorer('synflow', cache_dir=args.cache_dir)
    print(f'\n{"strategy":10s} {"to top-0.1% median / worst / reached":38s} {"to optimum median / worst / reached":38s}')
    for name in args.strategies.split(','):
        opts = {'pool_size': args.pool_size, 'scorer': scorer} if name in ('zc-rea', 'zc-random') else {}
        to_top, to_opt = [], []
        start = time.perf_counter()
        for seed in range(args.seeds):
            if name == 'zc-rea-tuner':
                accs = tuner_search(table, args.dataset, seed, args.budget, args.cache_dir, args.pool_size)
                to_top.append(first_reach(accs, top01))
                to_opt.append(first_reach(accs, optimum))
                continue
            res = run_benchmark_search(make_strategy(name, seed=seed, **opts), evaluator, args.budget, seed=seed,
                                       name=name)
            to_top.append(res.queries_to_reach(top01))
            to_opt.append(res.queries_to_reach(optimum))
        row = {}
        for key, vals in (('to_top0.1%', to_top), ('to_optimum', to_opt)):
            row[key] = {**queries_summary(vals, args.budget), 'raw': vals}
        row['seconds_per_run'] = (time.perf_counter() - start) / args.seeds
        if name != 'zc-rea-tuner':
            row['strategy'] = repr(make_strategy(name, seed=0, **opts))
        report['strategies'][name] = row
        t, o = row['to_top0.1%'], row['to_optimum']
        print(f'{name:10s} {t["median"]:8.1f} / {t["worst"]:5d} / {t["reached"]:2d} of {args.seeds:<14d}'
              f'{o["median"]:8.1f} / {o["worst"]:5d} / {o["reached"]:2d} of {args.seeds}', flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
