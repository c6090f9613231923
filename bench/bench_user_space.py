"""Every strategy on a user-written space: NAS-Bench-201 rewritten as a plain NNI ModelSpace.

``examples/user_nb201_space.py`` has its own labels (edge_a..edge_f), op names and op order, so nothing
recognises NAS-Bench-201: strategies see a generic space, zero-cost proxies build the user's networks
(``model_context`` re-instantiation) and lookups go through the table re-keyed by its labels, which is
generated from ``--benchmark`` into ``--work`` (never into the repository). One process, one thread.

  python bench/bench_user_space.py --seeds 20 --budget 300 --cache-dir /tmp/nni-rank-user-space/cache

Writes bench/results/user_space.json: per strategy, median / worst queries to the optimum and to the
top-0.1%, and whether the project's best strategy needs at most a third of NNI's REA queries to the top-0.1%.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'examples'))

import torch  # noqa: E402

from nni_rank.experiment.compare import run_comparison  # noqa: E402
from nni_rank.files import write_json  # noqa: E402
from nni_rank.spaces.adapter import adapter_for  # noqa: E402
from user_nb201_space import UserNB201Space, write_user_table  # noqa: E402

NNI_STRATEGIES = ('rea', 'random', 'tpe')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--benchmark', default=str(REPO.parent / 'shared' / 'data' / 'nb201_test_accuracy_200ep.csv'))
    p.add_argument('--dataset', default='cifar10')
    p.add_argument('--strategies', default='zc-rea,nar,zc-random,reinforce,alpha-nas,rea,random,tpe')
    p.add_argument('--seeds', type=int, default=20)
    p.add_argument('--budget', type=int, default=300)
    p.add_argument('--work', default='/tmp/nni-rank-user-space', help='folder for the re-keyed table and the runs')
    p.add_argument('--cache-dir', help='proxy score cache (by sample of the user space)')
    p.add_argument('--out', default=str(REPO / 'bench' / 'results' / 'user_space.json'))
    args = p.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    table = work / 'user_nb201.csv'
    if not table.is_file():
        write_user_table(args.benchmark, str(table))
    adapter = adapter_for(UserNB201Space())
    strategies = [s for s in args.strategies.split(',') if s]
    start = time.perf_counter()
    comp = run_comparison(table, strategies, range(args.seeds), args.budget, dataset=args.dataset, space=adapter,
                          cache_dir=args.cache_dir, runs_dir=work / f'runs-{args.budget}')
    print(comp.markdown())
    summary = comp.summary()
    ours = [s for s in strategies if s not in NNI_STRATEGIES]
    best = min(ours, key=lambda s: summary[s]['to_top0.1%']['median']) if ours else None
    rea = summary.get('rea', {}).get('to_top0.1%', {}).get('median')
    report = {'space': 'examples/user_nb201_space.py:UserNB201Space (NB201 as a plain user ModelSpace)',
              'benchmark': args.benchmark, 'dataset': args.dataset, 'metric': comp.metric, 'seeds': args.seeds,
              'budget': args.budget, 'optimum': comp.optimum, 'top0.1%_threshold': comp.top_threshold,
              'strategies': {name: {k: summary[name][k] for k in ('to_optimum', 'to_top0.1%', 'seconds_per_run')}
                             for name in strategies},
              'best_project_strategy': best,
              'target_top0.1%_at_most_a_third_of_rea': None if best is None or rea is None else
              bool(summary[best]['to_top0.1%']['median'] <= rea / 3),
              'seconds': round(time.perf_counter() - start, 1)}
    print(f'written to {write_json(args.out, report)}')


if __name__ == '__main__':
    main()
