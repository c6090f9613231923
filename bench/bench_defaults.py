"""How the search defaults were chosen: sweeps on tuning seeds (100 and up), never on the reported 0-19.

Median queries to the NB201 CIFAR-10 optimum (every lookup a query) for
1. REINFORCE's Adam learning rate (ReinforceTuner driven through NNI's tuner calls, budget 1,000);
2. zero-cost REA's population / tournament / random-move probability (synflow pool of 1,000, budget 300;
   CIFAR-100 too, as a check that played no part in the choice);
3. NAR with zero-cost features (synflow + NASWOT from the NAS-Bench-Suite-Zero table): random vs warm-up
   initial samples, 16 vs 8 of them (budget 150).
Prints each sweep and writes bench/results/defaults.json.

    python bench/bench_defaults.py --data ../shared/data --cache-dir bench/results/cache
"""
from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

warnings.filterwarnings('ignore')

from nni_rank.benchmarks import open_benchmark  # noqa: E402
from nni_rank.evaluators import BenchmarkEvaluator  # noqa: E402
from nni_rank.experiment import run_benchmark_search  # noqa: E402
from nni_rank.experiment.compare import queries_summary  # noqa: E402
from nni_rank.strategies import make_strategy  # noqa: E402
from nni_rank.tuners import ReinforceTuner  # noqa: E402

SPACE = json.loads((Path(__file__).resolve().parents[1] / 'config_yaml' / 'nb201_search_space.json').read_text())


def reinforce_queries(table, seed: int, lr: float, optimum: float, budget: int) -> int | None:
    tuner = ReinforceTuner(seed=seed, lr=lr)
    tuner.update_search_space(SPACE)
    for pid in range(budget):
        params = tuner.generate_parameters(pid)
        acc = table.accuracy(params, 'cifar10')
        if acc >= optimum:
            return pid + 1
        tuner.receive_trial_result(pid, params, acc)
    return None


def strategy_queries(table, name: str, dataset: str, seeds, budget: int, **options) -> dict:
    evaluator = BenchmarkEvaluator(table, dataset=dataset)
    optimum = table.top(dataset)[0][1]
    runs = [run_benchmark_search(make_strategy(name, seed=s, **options), evaluator, budget, seed=s)
            .queries_to_reach(optimum) for s in seeds]
    return {**queries_summary(runs, budget), 'raw': runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data'))
    ap.add_argument('--cache-dir', default='bench/results/cache', help='synflow cache of the zc-rea sweep')
    ap.add_argument('--out', default='bench/results/defaults.json')
    args = ap.parse_args()
    data = Path(args.data)
    table = open_benchmark(str(data / 'nb201_test_accuracy_200ep.csv'))
    optimum = table.top('cifar10')[0][1]
    report = {'note': 'tuning seeds only; reported figures use seeds 0-19', 'reinforce_lr': {}, 'zc_rea': {},
              'nar_proxies': {}}

    seeds = range(100, 120)
    for lr in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
        runs = [reinforce_queries(table, s, lr, optimum, 1000) for s in seeds]
        report['reinforce_lr'][str(lr)] = {**queries_summary(runs, 1000), 'raw': runs}
        print(f'reinforce lr={lr}: median {report["reinforce_lr"][str(lr)]["median"]}', flush=True)

    settings = [(20, 5, 0.25), (10, 3, 0.25), (5, 2, 0.25), (5, 2, 0.1), (5, 2, 0.0)]
    for dataset in ('cifar10', 'cifar100'):
        for pop, sample, move in settings if dataset == 'cifar10' else [settings[0], settings[-1]]:
            key = f'{dataset} population={pop} sample={sample} random_move_prob={move}'
            report['zc_rea'][key] = strategy_queries(
                table, 'zc-rea', dataset, seeds, 300, population_size=pop, sample_size=sample,
                random_move_prob=move, cache_dir=args.cache_dir)
            print(f'zc-rea {key}: median {report["zc_rea"][key]["median"]}', flush=True)

    ref = str(data / 'nb201_zc_reference_cifar10.csv')
    for warm_up, init in ((0, 16), (1000, 16), (1000, 8)):
        key = f'warm_up={warm_up} init_samples={init}'
        report['nar_proxies'][key] = strategy_queries(
            table, 'nar', 'cifar10', range(100, 112), 150, proxies='synflow,naswot', proxy_table=ref,
            warm_up=warm_up, init_samples=init, stop_at=optimum)
        print(f'nar+proxies {key}: median {report["nar_proxies"][key]["median"]}', flush=True)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
