"""Every strategy on a user-written space: NAS-Bench-201 or NAS-Bench-101 rewritten as a plain NNI ModelSpace.

``examples/user_nb201_space.py`` (labels edge_a..edge_f) and ``examples/user_nb101_space.py`` (e0_1..e5_6,
v1..v5) have their own labels, op names and op order, so nothing recognises a benchmark: strategies see a
generic space, zero-cost proxies build the user's networks (``model_context`` re-instantiation) and lookups go
through the table re-keyed by its labels, which is generated from ``--benchmark`` into ``--work`` (never into the
repository). The NAS-Bench-101 table has 500 of the space's 2^21 * 3^5 samples, so its searches are restricted to
the table (``nni_rank.spaces.restricted``). One process, one thread.

  python bench/bench_user_space.py --seeds 20 --budget 300 --cache-dir /tmp/nni-rank-user-space/cache
  python bench/bench_user_space.py --user-space nb101 --seeds 20 --budget 300 --cache-dir /tmp/nni-rank-user-nb101/cache
  python bench/bench_user_space.py --user-space nb101 --strategies zc-rea,zc-random,rea,random,tpe \
      -o zc-rea:learn=synflow,params,flops -o zc-random:learn=synflow,params,flops \
      --work /tmp/nni-rank-user-nb101-learned --cache-dir /tmp/nni-rank-user-nb101/cache \
      --out bench/results/user_space_nb101_learned.json

Writes bench/results/user_space.json (user_space_nb101.json): per strategy, median / worst queries to the optimum
and to the top-0.1% (top-1% too), and whether the project's best strategy needs at most a third of NNI's REA
queries to the top-0.1%.
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

from nni_rank.cli.compare import parse_strategy_options  # noqa: E402
from nni_rank.experiment.compare import queries_summary, run_comparison  # noqa: E402
from nni_rank.files import write_json  # noqa: E402
from nni_rank.spaces.adapter import adapter_for  # noqa: E402
import user_nb101_space  # noqa: E402
import user_nb201_space  # noqa: E402

NNI_STRATEGIES = ('rea', 'random', 'tpe')
DATA = REPO.parent / 'shared' / 'data'
#: --user-space -> (space class, table writer, default table, restricted to the table, default work folder, results)
USER_SPACES = {
    'nb201': (user_nb201_space.UserNB201Space, user_nb201_space.write_user_table, DATA / 'nb201_test_accuracy_200ep.csv',
              False, '/tmp/nni-rank-user-space', 'user_space.json'),
    'nb101': (user_nb101_space.UserNB101Space, user_nb101_space.write_user_table, DATA / 'nb101_500_valid_accuracy.csv',
              True, '/tmp/nni-rank-user-nb101', 'user_space_nb101.json'),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--user-space', choices=sorted(USER_SPACES), default='nb201')
    p.add_argument('--benchmark', help='the benchmark CSV re-keyed for the user space (default: the shared one)')
    p.add_argument('--dataset', default='cifar10')
    p.add_argument('--strategies', default='zc-rea,nar,zc-random,reinforce,alpha-nas,rea,random,tpe')
    p.add_argument('--seeds', type=int, default=20)
    p.add_argument('--first-seed', type=int, default=0, help='seeds FIRST .. FIRST+SEEDS-1 (split a run over processes)')
    p.add_argument('--budget', type=int, default=300)
    p.add_argument('--work', help='folder for the re-keyed table and the runs (default /tmp/nni-rank-user-...)')
    p.add_argument('--cache-dir', help='proxy score cache (by sample of the user space)')
    p.add_argument('--out', help='results JSON (default bench/results/user_space[_nb101].json)')
    p.add_argument('-o', '--option', action='append', default=[], metavar='STRATEGY:KEY=VALUE',
                   help='option for one strategy, repeatable (e.g. -o zc-rea:learn=synflow,params,flops)')
    args = p.parse_args()
    torch.set_num_threads(1)
    space_class, write_user_table, default_table, restricted, default_work, results = USER_SPACES[args.user_space]
    args.benchmark = args.benchmark or str(default_table)
    args.out = args.out or str(REPO / 'bench' / 'results' / results)
    work = Path(args.work or default_work)
    work.mkdir(parents=True, exist_ok=True)
    table = work / f'user_{args.user_space}.csv'
    if not table.is_file():
        write_user_table(args.benchmark, str(table))
    adapter = adapter_for(space_class())
    strategies = [s for s in args.strategies.split(',') if s]
    start = time.perf_counter()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    options = parse_strategy_options(args.option)
    comp = run_comparison(table, strategies, seeds, args.budget, dataset=args.dataset, space=adapter,
                          options=options, cache_dir=args.cache_dir, runs_dir=work / f'runs-{args.budget}',
                          restrict_to_table=restricted)
    print(comp.markdown())
    summary = comp.summary()
    ours = [s for s in strategies if s not in NNI_STRATEGIES]
    best = min(ours, key=lambda s: summary[s]['to_top0.1%']['median']) if ours else None
    rea = summary.get('rea', {}).get('to_top0.1%', {}).get('median')
    opened = adapter.open_table(table)
    top1 = opened.threshold(args.dataset, 0.01, comp.metric)
    for name in strategies:
        summary[name]['to_top1%'] = queries_summary([r.queries_to_reach(top1) for r in comp.runs[name].results],
                                                    args.budget)
    report = {'space': f'examples/user_{args.user_space}_space.py:{space_class.__name__} '
                       f'({args.user_space.upper()} as a plain user ModelSpace)',
              'restricted_to_table': restricted, 'table_rows': len(opened.archs()),
              'benchmark': args.benchmark, 'dataset': args.dataset, 'metric': comp.metric, 'seeds': args.seeds,
              'budget': args.budget, 'options': options, 'optimum': comp.optimum,
              'top0.1%_threshold': comp.top_threshold,
              'top1%_threshold': top1,
              'strategies': {name: {k: summary[name][k] for k in ('to_optimum', 'to_top0.1%', 'to_top1%',
                                                                   'seconds_per_run')}
                             for name in strategies},
              'best_project_strategy': best,
              'target_top0.1%_at_most_a_third_of_rea': None if best is None or rea is None else
              bool(summary[best]['to_top0.1%']['median'] <= rea / 3),
              'seconds': round(time.perf_counter() - start, 1)}
    print(f'written to {write_json(args.out, report)}')


if __name__ == '__main__':
    main()
