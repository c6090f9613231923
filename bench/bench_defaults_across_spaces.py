"""zc-rea defaults that carry across spaces: chosen without the target's labels, compared on every space measured.

``tune``: zc-rea settings (proxy, warm-up pool, population, tournament, random-move probability) on NAS-Bench-201
CIFAR-10 *validation* accuracy with tuning seeds 100-119 (never the reported seeds, never a test table); the
choice is the smallest median of queries to the optimum, then the smallest worst case, then the top-0.1%.

``eval``: on one space and its table (``--space nb201`` / ``PACKAGE.MODULE:CLASS`` / ``path/to/file.py:CLASS``,
``--benchmark`` keyed by its labels), seeds 0-19 x ``--budget`` queries: queries to the optimum and to the
top-0.1% for the NB201-tuned defaults (synflow), the new defaults and NNI's REA. To save the proxy scoring of a
user space, runs go in ``--stages`` budgets: a seed that reached the optimum within the first stage keeps that
run (its queries to both targets are final); the others run again with the next budget, and the script checks
that the longer run repeats the shorter one's queries (a run does not depend on its budget).

    python bench/bench_defaults_across_spaces.py tune --benchmark ../shared/data/nb201_valid_accuracy_200ep.csv \\
        --proxy-table /tmp/calib-bench/nb201_synflow_zc_ensemble.csv
    python bench/bench_defaults_across_spaces.py eval --label nb201-cifar10 --space nb201 \\
        --benchmark ../shared/data/nb201_test_accuracy_200ep.csv --proxy-table /tmp/calib-bench/nb201_synflow_zc_ensemble.csv
    python bench/bench_defaults_across_spaces.py eval --label user-nb201 --space examples/user_nb201_space.py:UserNB201Space \\
        --benchmark /tmp/nni-rank-user-space/user_nb201.csv --data ../shared/data/cifar10_train_10k.bin \\
        --cache-dir /tmp/nni-rank-user-space/cache --work /tmp/calib-bench/user-nb201
    python bench/bench_defaults_across_spaces.py eval --label user-nb101 --space examples/user_nb101_space.py:UserNB101Space \
        --benchmark /tmp/nni-rank-user-nb101/user_nb101.csv --restrict-to-table --data ../shared/data/cifar10_train_10k.bin \
        --cache-dir /tmp/nni-rank-user-nb101/cache --work /tmp/calib-bench/user-nb101

``--with-learned`` adds zc-rea and zc-random with learned proxy weights (``learn=synflow,params,flops``), and
``--only-learned`` runs just those, keeping the entry's other rows (NB201 then needs a proxy table with ``params``
and ``flops`` columns too).

The proxy table (NB201 only: ``arch_str``, ``synflow``, ``zc_ensemble`` of all 15,625 full-size cells) stands in
for computing NB201 scores; a user space's networks are built and scored (cached by sample in ``--cache-dir``).
Each call updates its own entry of bench/results/defaults_across_spaces.json.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
import warnings
from pathlib import Path

warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')

import torch  # noqa: E402

from nni_rank.experiment.compare import queries_summary, run_comparison  # noqa: E402
from nni_rank.files import write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / 'bench' / 'results' / 'defaults_across_spaces.json'

#: zc-rea's defaults tuned on NB201 CIFAR-10 (bench/bench_defaults.py): synflow, a pool of 1,000, 5 / 2, no random moves.
NB201_TUNED = {'proxy': 'synflow', 'pool_size': 1000, 'population_size': 5, 'sample_size': 2, 'random_move_prob': 0.0}
#: The new defaults: ``tune``'s best with a pool of 100 (zc_ensemble 5 / 2 / no random moves: median 23.5 queries to
#: the validation optimum; with a pool of 1,000: 23, the overall best): a pool of 100 scores a tenth of the
#: networks, which on a user space (every network built and scored, ~1 s each) is the cost of the warm-up.
NEW = {'proxy': 'zc_ensemble', 'pool_size': 100, 'population_size': 5, 'sample_size': 2, 'random_move_prob': 0.0}
#: ``tune``'s overall best, measured beside where the pool is cheap (``--with-pool-1000``).
BEST_POOL_1000 = {**NEW, 'pool_size': 1000}
#: Learned proxy weights (``--with-learned``): synflow orders the first three candidates, then the labels weigh synflow,
#: params and flops (ridge towards synflow alone, penalty 0.1; the strategies' defaults for ``learn``).
LEARNED = {**NB201_TUNED, 'learn': 'synflow,params,flops'}

TUNING_SEEDS = range(100, 120)
GRID = {'proxy': ('synflow', 'zc_ensemble'), 'pool_size': (100, 1000),
        'shape': ((5, 2, 0.0), (5, 2, 0.1), (10, 3, 0.1), (20, 5, 0.25))}


def _label(options: dict) -> str:
    return ' '.join(f'{k}={v}' for k, v in options.items())


def _strategy_options(options: dict, args) -> dict:
    opts = dict(options)
    if args.proxy_table:
        opts['proxy_table'] = args.proxy_table
    elif args.data:
        opts['data'] = args.data
    return opts


def staged_runs(name: str, options: dict, args, seeds, work: Path) -> dict:
    """Queries to the optimum and the top-0.1% per seed, running each seed no longer than it needs."""
    stages = [int(b) for b in args.stages.split(',')]
    if stages != sorted(stages) or stages[-1] != args.budget:
        raise ValueError(f'--stages must increase and end at --budget {args.budget}, got {args.stages}')
    todo, found, previous, start = list(seeds), {}, {}, time.perf_counter()
    for stage in stages:
        if not todo:
            break
        comp = run_comparison(args.benchmark, [name], todo, stage, dataset=args.dataset, space=args.space,
                              options={name: options} if options else None, cache_dir=args.cache_dir,
                              runs_dir=work / f'{stage}', log=print, restrict_to_table=args.restrict_to_table)
        left = []
        for seed, result in zip(todo, comp.runs[name].results):
            shorter = previous.get(seed)
            if shorter is not None and result.history[:len(shorter)] != shorter:
                raise RuntimeError(f'{name} seed {seed}: the {stage}-query run does not repeat the shorter run')
            previous[seed] = result.history
            to_opt = result.queries_to_reach(comp.optimum)
            found[seed] = (to_opt, result.queries_to_reach(comp.top_threshold))
            if to_opt is None and stage < args.budget:
                left.append(seed)
        todo = left
    opt, top = [found[s][0] for s in seeds], [found[s][1] for s in seeds]
    return {'options': options, 'to_optimum': queries_summary(opt, args.budget),
            'to_top0.1%': queries_summary(top, args.budget), 'raw_to_optimum': opt, 'raw_to_top0.1%': top,
            'seconds': round(time.perf_counter() - start, 1), 'optimum': comp.optimum,
            'top0.1%_threshold': comp.top_threshold}


def _update(key: str, entry: dict, out: Path) -> None:
    results = json.loads(out.read_text()) if out.is_file() else {}
    results[key] = entry
    print(f'written to {write_json(out, results)}')


def tune(args) -> None:
    work = Path(args.work)
    rows = {}
    for proxy, pool, (pop, tour, rm) in itertools.product(*GRID.values()):
        options = {'proxy': proxy, 'pool_size': pool, 'population_size': pop, 'sample_size': tour,
                   'random_move_prob': rm}
        label = _label(options)
        rows[label] = staged_runs('zc-rea', _strategy_options(options, args), args, TUNING_SEEDS,
                                  work / 'tune' / label.replace(' ', '_'))
        print(label, rows[label]['to_optimum'], rows[label]['to_top0.1%'])
    best = min(rows, key=lambda k: (rows[k]['to_optimum']['median'], rows[k]['to_optimum']['worst'],
                                    rows[k]['to_top0.1%']['median'], rows[k]['to_top0.1%']['worst']))
    _update('tuning', {'benchmark': args.benchmark, 'dataset': args.dataset, 'seeds': list(TUNING_SEEDS),
                       'budget': args.budget, 'criterion': 'median queries to the optimum, then worst, then top-0.1%',
                       'chosen': best, 'runs': rows}, Path(args.out))


def evaluate(args) -> None:
    work = Path(args.work)
    seeds = range(args.seeds)
    entry = {'space': args.space, 'benchmark': args.benchmark, 'dataset': args.dataset, 'budget': args.budget,
             'seeds': args.seeds, 'proxy_table': args.proxy_table, 'data': args.data,
             'restricted_to_table': args.restrict_to_table, 'configs': {}}
    configs = [('nb201-tuned defaults', 'zc-rea', NB201_TUNED), ('new defaults', 'zc-rea', NEW)]
    if args.with_pool_1000:
        configs.append(('new, pool 1000', 'zc-rea', BEST_POOL_1000))
    learned = [s for s in (args.with_learned or '').split(',') if s]
    if 'zc-rea' in learned:
        configs.append(('learned weights', 'zc-rea', LEARNED))
    if 'zc-random' in learned:
        configs.append(('zc-random, learned weights', 'zc-random', {'learn': LEARNED['learn']}))
    if args.only_learned:  # keep the other configurations (and NNI's REA) from the entry already written
        written = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
        if args.label not in written:
            raise SystemExit(f'--only-learned keeps the other rows of entry {args.label!r}, which {args.out} lacks: '
                             'run without it first')
        previous = written[args.label]
        entry['configs'] = dict(previous['configs'])
        configs = [c for c in configs if 'learn' in c[2]]
    for name, strategy, options in configs:
        entry['configs'][name] = staged_runs(strategy, _strategy_options(options, args), args, seeds,
                                             work / name.replace(',', '').replace(' ', '-'))
    if not args.only_learned:
        entry['configs']['NNI rea'] = staged_runs('rea', {}, args, seeds, work / 'rea')
    for name, row in entry['configs'].items():
        print(f'{name:22s} to optimum {row["to_optimum"]}  to top-0.1% {row["to_top0.1%"]}')
    _update(args.label, entry, Path(args.out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('mode', choices=('tune', 'eval'))
    p.add_argument('--label', default='nb201-cifar10', help='name of the entry written (eval)')
    p.add_argument('--space', default='nb201')
    p.add_argument('--benchmark', required=True)
    p.add_argument('--dataset', default='cifar10')
    p.add_argument('--proxy-table', help='NB201 proxy table (arch_str, synflow, zc_ensemble) read instead of scoring')
    p.add_argument('--data', help='minibatch of the data-dependent proxies when networks are scored (CIFAR path)')
    p.add_argument('--cache-dir', help='proxy score cache of the scored networks')
    p.add_argument('--restrict-to-table', action='store_true',
                   help='search the rows of --benchmark only (a table covering part of its space, e.g. NB101 500)')
    p.add_argument('--seeds', type=int, default=20)
    p.add_argument('--budget', type=int, default=300)
    p.add_argument('--stages', default='300', help='increasing budgets ending at --budget, e.g. 60,300')
    p.add_argument('--with-pool-1000', action='store_true', help='eval: also the new defaults with a pool of 1,000')
    p.add_argument('--with-learned', nargs='?', const='zc-rea,zc-random', default='',
                   help='eval: also these strategies (default zc-rea,zc-random) with learned proxy weights (synflow, '
                        'params, flops)')
    p.add_argument('--only-learned', action='store_true',
                   help='eval: run only the learned-weights configs, keeping the others from the entry already written')
    p.add_argument('--work', default='/tmp/calib-bench/runs', help='folder of the finished runs (resumable)')
    p.add_argument('--out', default=str(OUT))
    args = p.parse_args()
    torch.set_num_threads(1)
    (tune if args.mode == 'tune' else evaluate)(args)


if __name__ == '__main__':
    main()
