"""``nni-rank search``: run a strategy on a benchmark table, or (no benchmark) a small real NAS on embedded data."""
from __future__ import annotations

import argparse
import json
import time

from ..experiment import run_benchmark_search
from ..strategies import STRATEGIES, make_strategy
from .common import add_space_option, check_output_file, non_negative_int, positive_int, write_json

DEFAULT_OUT = 'nni-rank-results/search.json'


def add_parser(sub) -> None:
    p = sub.add_parser('search', help='run a NAS strategy (benchmark lookups, or real training on embedded data)',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_space_option(p)
    p.add_argument('--strategy', default='random', help=f'one of: {", ".join(sorted(STRATEGIES))}')
    p.add_argument('--benchmark', help='benchmark file(s): .csv (comma-separated), official .pth or NNI .db; '
                                       'without it, networks are trained for real on --data')
    p.add_argument('--dataset', default='cifar10', help='benchmark dataset')
    p.add_argument('--metric', help='benchmark metric reported as default (test accuracy when present)')
    p.add_argument('--budget', type=positive_int, help='number of queries (default 100 on a benchmark, 6 when training)')
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--restrict-to-table', action='store_true',
                   help='search only the architectures of --benchmark (a table covering part of your space)')
    p.add_argument('-o', '--option', action='append', default=[], metavar='KEY=VALUE',
                   help='strategy option, repeatable (e.g. -o proxy=synflow -o pool_size=1000); '
                        'values are parsed as JSON when they can be, else kept as strings')
    p.add_argument('--json', help=f'write best architecture and query history here (training default: {DEFAULT_OUT})')
    g = p.add_argument_group('real training (no --benchmark)')
    g.add_argument('--data', default='digits', help="'digits' (embedded) or a local CIFAR folder / .bin file")
    g.add_argument('--epochs', type=positive_int, default=3)
    g.add_argument('--channels', type=positive_int, default=16)
    g.add_argument('--cells-per-stage', type=positive_int, default=1, help='NB201 uses 5; 1 keeps the CPU default quick')
    g.add_argument('--device', default='cpu')
    p.set_defaults(func=run)


def parse_options(pairs: list[str]) -> dict:
    """``['pool_size=100', 'proxy=synflow']`` -> ``{'pool_size': 100, 'proxy': 'synflow'}``."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition('=')
        if not sep or not key.strip():
            raise ValueError(f'strategy options are KEY=VALUE, got {pair!r}')
        try:
            options[key.strip().replace('-', '_')] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip().replace('-', '_')] = value
    return options


def run(args) -> int:
    check_output_file(args.json or (None if args.benchmark else DEFAULT_OUT), '--json file')
    try:
        strategy = make_strategy(args.strategy, seed=args.seed, **parse_options(args.option))
    except TypeError as err:  # an option the strategy does not take
        raise ValueError(f'strategy {args.strategy!r}: {err}') from None
    model_space = None
    if args.benchmark:
        from ..evaluators import BenchmarkEvaluator
        from ..spaces.adapter import adapter_for
        adapter = adapter_for(args.space)
        evaluator = BenchmarkEvaluator(args.benchmark, dataset=args.dataset, metric=args.metric, space=adapter)
        model_space = adapter.network_space  # a user space: its networks, for zero-cost proxies
        budget = 100 if args.budget is None else args.budget
        what = f'{args.space} on {evaluator.table.source} ({args.dataset}, {evaluator.metric})'
        out = args.json
    else:
        if args.space != 'nb201':
            raise ValueError(f'real training is available for --space nb201; give --benchmark for {args.space}')
        from ..evaluators import TrainingEvaluator
        evaluator = TrainingEvaluator(data=args.data, epochs=args.epochs, channels=args.channels,
                                      cells_per_stage=args.cells_per_stage, seed=args.seed, device=args.device)
        evaluator.loaders()
        budget = 6 if args.budget is None else args.budget
        what = f'nb201 (C={args.channels}, {args.cells_per_stage} cell/stage) trained {args.epochs} epochs on ' \
               f'{evaluator.description}'
        out = args.json or DEFAULT_OUT
    print(f'searching {what} with {args.strategy}, budget {budget}, seed {args.seed}')
    start = time.perf_counter()
    result = run_benchmark_search(strategy, evaluator, budget, seed=args.seed, name=args.strategy,
                                  model_space=model_space, progress=not args.benchmark and not args.quiet,
                                  restrict_to_table=args.restrict_to_table)
    best_arch, best_acc = result.best
    failed = sum(v is None for _, v in result.history)
    if failed and args.benchmark and not args.restrict_to_table:
        print(f'{failed} of {len(result.history)} queries found no row in the table (architectures it does not hold); '
              '--restrict-to-table searches only the table\'s architectures')
    if best_arch is None:
        print(f'no query succeeded in {len(result.history)} tries')
        return 1
    print(f'best architecture: {best_arch}')
    print(f'best accuracy: {best_acc:.4f}  ({len(result.history)} queries, {time.perf_counter() - start:.1f} s)')
    if out:
        print(f'results written to {write_json(out, result.to_json())}')
    return 0
