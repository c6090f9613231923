"""``nni-rank compare``: every strategy on the same benchmark table with the same seeds; CSV, markdown, PNG."""
from __future__ import annotations

import argparse

from .common import add_space_option, check_output_dir, positive_int
from .search import parse_options

#: ``rl`` (NNI's PolicyBasedRL) costs about a second per query, so it is only run when asked for.
DEFAULT_STRATEGIES = 'nar,zc-rea,alpha-nas,random,rea,tpe'


def add_parser(sub) -> None:
    from ..strategies import STRATEGIES
    p = sub.add_parser('compare', help='compare search strategies head to head on a benchmark table',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                       description='Run every strategy for every seed on the same benchmark table and write '
                                   'runs.csv, curves.csv, summary.md, summary.json and best_so_far.png to --out.')
    add_space_option(p)
    p.add_argument('--benchmark', required=True, help='benchmark file(s): .csv (comma-separated), .pth or NNI .db')
    p.add_argument('--dataset', default='cifar10')
    p.add_argument('--metric', help='benchmark metric (test accuracy when present)')
    p.add_argument('--strategies', default=DEFAULT_STRATEGIES,
                   help=f'comma-separated, from: {", ".join(sorted(STRATEGIES))}. rl (NNI PolicyBasedRL) is left out '
                        'by default: about 1 s per query, i.e. ~200 s per seed at budget 200; add it explicitly')
    p.add_argument('--seeds', type=positive_int, default=10, help='seeds 0 .. N-1, the same for every strategy')
    p.add_argument('--budget', type=positive_int, default=200, help='queries (benchmark lookups) per run')
    p.add_argument('--cache-dir', help='zero-cost proxy cache folder, handed to the zc-* strategies (and to nar '
                                       'when it uses proxies; alpha-nas keeps traced properties of a generic space '
                                       'there); e.g. bench/results/cache')
    p.add_argument('--restrict-to-table', action='store_true',
                   help='search only the architectures of the table (a table covering part of your space)')
    p.add_argument('-o', '--option', action='append', default=[], metavar='STRATEGY:KEY=VALUE',
                   help='option for one strategy, repeatable (e.g. -o zc-rea:pool_size=500 -o nar:batch_size=8)')
    p.add_argument('--out', default='nni-rank-results/compare',
                   help='output folder; finished runs are kept in OUT/runs as they finish, and a rerun with the '
                        'same --out and settings reads them back instead of running them again')
    p.set_defaults(func=run)


def parse_strategy_options(pairs: list[str]) -> dict[str, dict]:
    """``['zc-rea:pool_size=500']`` -> ``{'zc-rea': {'pool_size': 500}}``."""
    out: dict[str, dict] = {}
    for pair in pairs:
        name, sep, rest = pair.partition(':')
        if not sep or not name.strip() or '=' not in rest:
            raise ValueError(f'compare options are STRATEGY:KEY=VALUE, got {pair!r}')
        out.setdefault(name.strip(), {}).update(parse_options([rest]))
    return out


def run(args) -> int:
    from ..experiment.compare import run_comparison, write_report
    strategies = [s.strip() for s in args.strategies.split(',') if s.strip()]
    out = check_output_dir(args.out)
    runs_dir = out / 'runs'
    args.on_interrupt = f'finished runs are kept in {runs_dir}; run the same command again to resume'
    print(f'comparing {", ".join(strategies)} on {args.benchmark} ({args.dataset}): '
          f'{args.seeds} seeds x {args.budget} queries')
    comp = run_comparison(args.benchmark, strategies, range(args.seeds), args.budget, dataset=args.dataset,
                          metric=args.metric, space=args.space, options=parse_strategy_options(args.option),
                          cache_dir=args.cache_dir, runs_dir=runs_dir, restrict_to_table=args.restrict_to_table)
    paths = write_report(comp, out)
    print()
    print(comp.markdown())
    print('written: ' + ', '.join(str(p) for p in paths.values()))
    return 0
