"""``nni-rank proxies``: score sampled architectures with zero-cost proxies; rank correlation with a benchmark."""
from __future__ import annotations

import argparse
import csv
import math
import time
import warnings

import numpy as np

from .common import add_space_option, atomic_path, check_output_file, non_negative_int, positive_int, write_json


SAMPLE_PROXIES = 'synflow,naswot,jacob_cov,snip,params,flops'
ALL_CELLS_PROXIES = 'synflow,params,flops'


def add_parser(sub) -> None:
    p = sub.add_parser('proxies', help='score sampled architectures with zero-cost proxies',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_space_option(p)
    p.add_argument('--proxies', help="comma-separated proxy names, or 'all' (default: "
                                     f"{SAMPLE_PROXIES}; with --all: {ALL_CELLS_PROXIES})")
    p.add_argument('--sample', type=positive_int, default=100, help='number of architectures, drawn uniformly without replacement')
    p.add_argument('--all', action='store_true',
                   help='score every architecture of the space (NB201: 15,625 cells, each distinct network once) '
                        'into the --out table; resumable: run the same command again after an interruption')
    p.add_argument('--workers', type=positive_int, default=2, help='with --all: scoring processes, one torch thread each')
    p.add_argument('--seed', type=non_negative_int, default=0, help='seed of the sample, the minibatch and the initialisation')
    p.add_argument('--benchmark', help='benchmark table: prints Spearman/Kendall of each proxy against its accuracy')
    p.add_argument('--dataset', default='cifar10', help='benchmark dataset')
    p.add_argument('--data-dir', help='local CIFAR folder / .bin for data-dependent proxies (default: embedded digits)')
    p.add_argument('--batch-size', type=positive_int, default=64)
    p.add_argument('--cache-dir', help='reuse and extend an on-disk score cache')
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', help='CSV: the architecture (arch_str; a user space: the encoded sample) and one column '
                                 'per proxy')
    p.add_argument('--json', help='JSON summary (n, per-proxy spearman/kendall/nan_count, seconds)')
    p.add_argument('--plot', help='PNG: proxy score against benchmark accuracy')
    p.set_defaults(func=run)


def sample_archs(n: int, seed: int) -> list[str]:
    """``n`` distinct NB201 architecture strings drawn uniformly with ``seed``."""
    from ..spaces.adapter import adapter_for
    adapter = adapter_for('nb201')
    return [adapter.describe(s) for s in adapter.distinct_samples(n, seed)]


def correlations(values: np.ndarray, accuracy: np.ndarray, higher_is_better: bool = True) -> dict:
    """Spearman's rho and Kendall's tau with undefined (NaN) scores ranked last, and their count."""
    from scipy.stats import kendalltau, spearmanr

    from ..proxies import rank_with_nan_last
    ranks = -rank_with_nan_last(values, higher_is_better)  # higher = predicted better
    ok = np.isfinite(accuracy)
    rho = spearmanr(ranks[ok], accuracy[ok])[0]
    tau = kendalltau(ranks[ok], accuracy[ok])[0]
    return {'spearman': float(rho), 'kendall': float(tau), 'nan_count': int((~np.isfinite(values)).sum())}


def run(args) -> int:
    from ..proxies import PROXIES, available_proxies, resolve_names
    from ..proxies.exhaustive import score_all
    from ..spaces.adapter import adapter_for
    for path, what in ((args.out, '--out file'), (args.json, '--json file'), (args.plot, '--plot file')):
        check_output_file(path, what)
    text = args.proxies or (ALL_CELLS_PROXIES if args.all else SAMPLE_PROXIES)
    names = available_proxies() if text.strip().lower() == 'all' else resolve_names(text.split(','))
    adapter = adapter_for(args.space)
    table = None
    if args.benchmark:
        table = adapter.open_table(args.benchmark)
        table.accuracy_metric(args.dataset)  # a bad dataset fails before any scoring
    setting = dict(data=args.data_dir or 'digits', batch_size=args.batch_size, seed=args.seed, device=args.device)
    if args.all:
        if not args.out:
            raise ValueError('--all writes the table of every architecture to --out: give --out FILE.csv')
        cache_dir = args.cache_dir or f'{args.out}.cache'
        args.on_interrupt = f'the scores so far are cached in {cache_dir}: run the same command again to continue'
    else:
        try:
            samples = adapter.distinct_samples(args.sample, args.seed)
        except ValueError as err:
            raise ValueError(f'--sample: {err}') from None
    store = adapter.proxy_source(names, cache_dir=None, **setting)  # what the minibatch is (scores: below)
    if store.needs_data:
        store.batch  # noqa: B018  (loads the minibatch, so the description below is known)
        print(f'data-dependent proxies use {store.description}' +
              ('' if args.data_dir else ' (embedded default; give --data-dir for CIFAR images)'))
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        if args.all:
            print(f'scoring every architecture; cache {cache_dir} (an interrupted run continues from it)')
            samples, values = score_all(args.space, names, cache_dir, workers=args.workers, **setting)
        else:
            values = _sample_scores(adapter, names, samples, args.cache_dir, setting)
    seconds = time.perf_counter() - start
    archs = [adapter.describe(s) for s in samples]
    nans = {n: int((~np.isfinite(values[:, i])).sum()) for i, n in enumerate(names)}
    if any(nans.values()):
        detail = ', '.join(f'{n}: {c}' for n, c in nans.items() if c)
        print(f'warning: undefined (NaN) scores, ranked last: {detail} '
              f'(e.g. cells with no path from input to output)')
    del caught
    print(f'scored {len(archs)} architectures with {len(names)} proxies in {seconds:.1f} s '
          f'({len(archs) / seconds:.2f} archs/s)')
    if args.out:
        with atomic_path(args.out) as tmp, open(tmp, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow([adapter.describe_column, *names])
            for arch, row in zip(archs, values):
                w.writerow([arch, *('nan' if not math.isfinite(v) else repr(float(v)) for v in row)])
        print(f'scores written to {args.out}')
    summary = {'n': len(archs), 'proxies': {n: {'nan_count': nans[n]} for n in names}, 'seconds': round(seconds, 3),
               'data': store.description if store.needs_data else None, 'seed': args.seed}
    if table is not None:
        accuracy = np.array([_accuracy(table, s, args.dataset) for s in samples])
        print(f'{"proxy":16s} {"spearman":>9s} {"kendall":>8s} {"nan":>5s}   vs {args.dataset} accuracy '
              f'({int(np.isfinite(accuracy).sum())} archs in the table)')
        for i, n in enumerate(names):
            c = correlations(values[:, i], accuracy, PROXIES[n].higher_is_better)
            summary['proxies'][n] = c
            print(f'{n:16s} {c["spearman"]:9.3f} {c["kendall"]:8.3f} {c["nan_count"]:5d}')
        summary['dataset'] = args.dataset
        if args.plot:
            _plot(args.plot, names, values, accuracy, summary, args.dataset)
    elif args.plot:
        raise ValueError('--plot needs --benchmark (score against accuracy)')
    if args.json:
        print(f'summary written to {write_json(args.json, summary)}')
    return 0


def _sample_scores(adapter, names, samples, cache_dir, setting: dict) -> np.ndarray:
    """Raw values of ``samples``, each proxy in the cache a search of it reads (``fisher`` apart from
    ``zc_ensemble``: :func:`~nni_rank.proxies.store.cache_passes`); ``zc_ensemble`` of a space without packaged tables
    under the space's own tables, as a search with the same setting and cache scores it."""
    from ..proxies.calibration import space_ensemble
    from ..proxies.store import cache_passes

    def source(inner):
        return adapter.proxy_source(inner, cache_dir=cache_dir, **setting)

    columns = {}
    for part in cache_passes(names):
        ensemble = space_ensemble(adapter, part, source, data=setting['data'], batch_size=setting['batch_size'],
                                  seed=setting['seed'], cache_dir=cache_dir)
        if ensemble is None:
            values = source(part).scores(samples, progress=True)
        else:
            calibration = ensemble.calibration_samples() if ensemble.stored_calibration() is None else []
            ensemble.source.scores([*samples, *calibration], progress=True)  # components (and the tables' samples)
            values = ensemble.scores(samples)
        columns.update(zip(part, values.T))
    return np.stack([columns[n] for n in names], axis=1)


def _accuracy(table, arch, dataset: str) -> float:
    try:
        return float(table.accuracy(arch, dataset))
    except LookupError:
        return float('nan')


def _plot(path: str, names, values, accuracy, summary, dataset) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, (i, n) in zip(axes.flat, enumerate(names)):
        v = values[:, i]
        ok = np.isfinite(v) & np.isfinite(accuracy)
        ax.scatter(v[ok], accuracy[ok], s=6, alpha=0.5)
        if ok.any() and v[ok].min() > 0 and v[ok].max() / max(v[ok].min(), 1e-300) > 1e3:
            ax.set_xscale('log')
        c = summary['proxies'][n]
        ax.set_title(f'{n}: rho {c["spearman"]:.3f}, tau {c["kendall"]:.3f}', fontsize=9)
        ax.set_xlabel('score')
        ax.set_ylabel(f'{dataset} accuracy')
    for ax in list(axes.flat)[len(names):]:
        ax.axis('off')
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format='png')
    plt.close(fig)
    print(f'plot written to {path}')
