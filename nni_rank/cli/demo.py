"""``nni-rank demo``: the main job. The project's ranking-based search beside NNI's own, on the packaged
NAS-Bench-201 table, same budget and seeds; a printed table and a PNG of best-so-far curves."""
from __future__ import annotations

import argparse
import time

from .common import check_output_dir, non_negative_int, positive_int

DEFAULT_OUT = 'nni-rank-results/demo'
#: The project's zero-cost evolution and alpha-NAS against NNI's regularized evolution, TPE and random search.
DEFAULT_STRATEGIES = 'zc-rea,alpha-nas,rea,tpe,random'
DESCRIPTIONS = {
    'zc-rea': "NNI's regularized evolution steered by the synflow proxy (warm-up and move proposal; scores are free)",
    'zc-random': 'random candidates evaluated in synflow order',
    'alpha-nas': 'evolution in the space of program properties, synthesised back to cells',
    'nar': 'NAR: quality-tier ranker sampling from top-tier statistics',
    'rea': "NNI's RegularizedEvolution (population 20, tournament 5)",
    'tpe': "NNI's TPE tuner as a strategy",
    'random': "NNI's Random",
    'reinforce': "NAS-Bench-201's REINFORCE baseline",
    'rl': "NNI's PolicyBasedRL (PPO)",
}


def add_parser(sub) -> None:
    p = sub.add_parser('demo', help='the main job: ranking-based search next to NNI\'s strategies on the packaged '
                                    'NB201 table (no data needed, about a minute)',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter, description=__doc__)
    p.add_argument('--strategies', default=DEFAULT_STRATEGIES, help='comma-separated strategy names')
    p.add_argument('--dataset', default='cifar10', choices=['cifar10', 'cifar100'])
    p.add_argument('--seeds', type=positive_int, default=10, help='seeds 0 .. N-1, the same for every strategy')
    p.add_argument('--budget', type=positive_int, default=100, help='queries (table lookups) per run')
    p.add_argument('--check-proxies', type=non_negative_int, default=5,
                   help='recompute synflow of this many cells live and compare with the packaged values')
    p.add_argument('--out', default=DEFAULT_OUT, help='output folder (finished runs are kept in OUT/runs)')
    p.set_defaults(func=run)


def check_packaged_proxies(table_path: str, n: int, seed: int = 0) -> float:
    """Largest relative difference between synflow computed now and the packaged value, over ``n`` cells."""
    import numpy as np

    from ..predictors import ProxyTable
    from ..proxies import ProxyStore
    from ..spaces import OPS, NB201Arch
    rng = np.random.default_rng(seed)
    archs = [NB201Arch.from_indices(rng.integers(len(OPS), size=6)).to_str() for _ in range(n)]
    live = ProxyStore(['synflow']).scores(archs)[:, 0]
    packaged = ProxyTable(table_path, ['synflow'], exact=True).scores(archs)[:, 0]
    both = np.isfinite(live) & np.isfinite(packaged)
    if (np.isfinite(live) != np.isfinite(packaged)).any():
        return float('inf')
    return float(np.max(np.abs(live[both] - packaged[both]) / np.maximum(np.abs(packaged[both]), 1e-30))) \
        if both.any() else 0.0


def run(args) -> int:
    from ..experiment.compare import run_comparison, write_report
    from ..resources import packaged_nb201
    out = check_output_dir(args.out)
    args.on_interrupt = f'finished runs are kept in {out / "runs"}; run the same command again to resume'
    start = time.perf_counter()
    table = str(packaged_nb201())
    strategies = [s.strip() for s in args.strategies.split(',') if s.strip()]
    print(f'NAS-Bench-201 ({args.dataset}, 15,625 cells, packaged table {table}): {len(strategies)} '
          f'strategies x {args.seeds} seeds x {args.budget} queries; every lookup is a query, proxy scores are free')
    for name in strategies:
        print(f'  {name:10s} {DESCRIPTIONS.get(name, "")}')
    if args.check_proxies:
        diff = check_packaged_proxies(table, args.check_proxies)
        print(f'synflow recomputed live for {args.check_proxies} cells (no data needed): largest relative difference '
              f'from the packaged values {diff:.1e}')
        if not diff < 1e-4:
            raise RuntimeError(f'packaged synflow values differ from live ones by {diff:.1e}: the table is stale')
    options = {n: {'proxy_table': table} for n in strategies if n.startswith('zc-')}  # synflow, shipped
    comp = run_comparison(table, strategies, range(args.seeds), args.budget, dataset=args.dataset, options=options,
                          runs_dir=out / 'runs')
    paths = write_report(comp, out)
    print()
    print(comp.markdown())
    print(_verdict(comp))
    print(f'written to {out}/: ' + ', '.join(p.name for p in paths.values()) + f'  ({time.perf_counter() - start:.0f} s)')
    print('next: nni-rank compare --benchmark nb201-packaged --strategies nar,zc-rea,rea -o zc-rea:proxy_table='
          'nb201-packaged; nni-rank report EXPERIMENT after an nnictl run')
    return 0


def _verdict(comp) -> str:
    """One line: the best project strategy against NNI's regularized evolution, queries to the top-0.1%."""
    summary = comp.summary()
    ours = [n for n in summary if n not in ('rea', 'random', 'tpe', 'rl')]
    if not ours or 'rea' not in summary:
        return ''
    best = min(ours, key=lambda n: summary[n]['to_top0.1%']['median'])
    a, b = summary[best]['to_top0.1%'], summary['rea']['to_top0.1%']
    miss = f' (a miss counts as {comp.budget + 1})'
    return (f'{best} reached the top-0.1% in a median of {a["median"]:g} queries ({a["reached"]}/{a["runs"]} runs), '
            f"NNI's regularized evolution in {b['median']:g} ({b['reached']}/{b['runs']}){miss}.")
