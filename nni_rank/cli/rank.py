"""``nni-rank rank``: train a ranker on N benchmark architectures, measure its ranking on all the others."""
from __future__ import annotations

import argparse
import time
from typing import Sequence

import numpy as np

from .common import add_space_option, check_output_file, write_json, int_at_least, non_negative_float, non_negative_int, positive_int

PREDICTORS = ('nar',)


def add_parser(sub) -> None:
    p = sub.add_parser('rank', help="ranking quality of a predictor (Kendall's tau, Spearman's rho, top-1%% precision)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_space_option(p)
    p.add_argument('--predictor', default='nar', choices=PREDICTORS)
    p.add_argument('--train-size', type=int_at_least(2), default=100, help='number of labelled architectures (seeded sample)')
    p.add_argument('--benchmark', required=True, help='benchmark table (.csv, comma-separated CSVs, .pth or .db)')
    p.add_argument('--dataset', default='cifar10', help='dataset whose accuracies train the ranker')
    p.add_argument('--transfer-dataset', help='also score the same ranking against this dataset (e.g. cifar100)')
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--with-proxies', metavar='NAMES', help='zero-cost proxies as extra features, e.g. synflow,naswot')
    p.add_argument('--proxy-data', default='digits',
                   help="minibatch for data-dependent proxies: 'digits' or a CIFAR path")
    p.add_argument('--proxy-cache', default='nni-rank-results/proxy-cache', help='on-disk cache of proxy scores')
    p.add_argument('--proxy-table', help='read the proxies from this CSV (arch_str + one column per proxy, e.g. '
                                         'nb201_zc_reference_cifar10.csv) instead of computing them')
    p.add_argument('--proxy-bins', type=non_negative_int, default=0,
                   help='give NAR each proxy as a piecewise-linear encoding over this many quantile bins of the '
                        'training architectures (NARPredictor.bin_columns); 0 keeps the raw (signed-log) value')
    p.add_argument('--test-limit', type=positive_int, help='evaluate on a seeded subset of this many test architectures '
                                                    '(default: all; 2000 when proxies are computed)')
    g = p.add_argument_group('NAR predictor')
    g.add_argument('--tiers', type=int_at_least(2), default=5, help='number of global quality tiers K')
    g.add_argument('--epochs', type=positive_int, default=200)
    g.add_argument('--rank-weight', type=non_negative_float, default=1.0, help='weight of the pairwise ranking loss')
    g.add_argument('--rank-mode', default='score', choices=['score', 'blend', 'expected', 'tiered'])
    g.add_argument('--no-paths', action='store_true', help='leave the path features out of the NB201 encoding')
    g.add_argument('--device', default='cpu')
    p.add_argument('--json', help='write the figures here')
    p.set_defaults(func=run)


def top_fraction_precision(predicted: np.ndarray, actual: np.ndarray, fraction: float = 0.01) -> float:
    """Share of the predicted top ``fraction`` that is truly in the top ``fraction`` (at least one architecture)."""
    k = max(1, int(np.ceil(fraction * len(actual))))
    pred_top = set(np.argsort(-np.asarray(predicted), kind='stable')[:k].tolist())
    true_top = set(np.argsort(-np.asarray(actual), kind='stable')[:k].tolist())
    return len(pred_top & true_top) / k


def ranking_figures(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr
    return {'kendall': float(kendalltau(predicted, actual)[0]), 'spearman': float(spearmanr(predicted, actual)[0]),
            'top1pct_precision': top_fraction_precision(predicted, actual, 0.01)}


def split(n_total: int, train_size: int, seed: int, test_limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, test) index split: ``train_size`` architectures, then the rest (or ``test_limit`` of them)."""
    if not 2 <= train_size < n_total:
        raise ValueError(f'--train-size must lie in 2..{n_total - 1} (the table has {n_total} architectures), '
                         f'got {train_size}')
    perm = np.random.default_rng(seed).permutation(n_total)
    train, test = perm[:train_size], perm[train_size:]
    if test_limit is not None:
        if test_limit < 2:
            raise ValueError(f'--test-limit must be at least 2, got {test_limit}')
        test = np.sort(test[:test_limit])
    return train, test


def evaluate_ranking(table, dataset: str, train_size: int, seed: int, *, transfer_dataset: str | None = None,
                     proxies: Sequence[str] = (), proxy_store=None, test_limit: int | None = None,
                     predictor_args: dict | None = None, features: np.ndarray | None = None,
                     paths: bool = True, space='nb201', population: Sequence[int] | None = None,
                     proxy_bins: int = 0) -> dict:
    """Train NAR on ``train_size`` seeded architectures of ``table`` and score its ranking of the others.

    The architectures are encoded by the ``space``'s NAR codec (:meth:`SpaceAdapter.candidates`; ``paths``
    for the NB201 encoding); ``features`` (one row per ``table.archs()``) replaces it. ``proxy_store`` is
    anything with ``scores(candidates) -> (n, m)`` (:meth:`SpaceAdapter.proxy_source`, a
    :class:`~nni_rank.predictors.ProxyTable`). ``population`` (row indices of ``table``) restricts both the
    training sample and the test cells to those rows (e.g. the cells a proxy table covers); the split is then
    drawn over positions in ``population``. ``proxy_bins`` >= 2 gives NAR each proxy as a piecewise-linear
    encoding over that many training-quantile bins (:attr:`NARPredictor.bin_columns`).
    """
    from ..predictors import NARPredictor, with_extra_features
    from ..spaces.adapter import adapter_for
    if proxy_bins and not proxies:
        raise ValueError(f'proxy_bins={proxy_bins} needs proxies (the columns to bin)')
    table.check_dataset(dataset)
    if transfer_dataset is not None:
        table.check_dataset(transfer_dataset)
    adapter = adapter_for(space)
    archs = adapter.table_candidates(table)
    if population is None:
        train, test = split(len(archs), train_size, seed, test_limit)
    else:
        population = np.asarray(population, dtype=np.int64)
        train, test = split(len(population), train_size, seed, test_limit)
        train, test = population[train], population[test]
    used = np.concatenate([train, test])
    codec = adapter.candidates(paths=paths)
    X = features[used] if features is not None else codec.features([archs[i] for i in used])
    predictor_args = dict(predictor_args or {})
    if proxies:
        base = X.shape[1]
        X = with_extra_features(X, proxy_store.scores([archs[i] for i in used]))
        # second, compact view: FLOPs, params and the proxies (see NARPredictor.compact_columns)
        if features is not None:  # given features end with MFLOPs and M params, as the NB201 encoding does
            cost = [base - 2, base - 1]
        else:
            names = list(codec.encoder.feature_names)
            cost = [names.index(n) for n in ('mflops', 'mparams') if n in names]
        predictor_args.setdefault('compact_columns', [*cost, *range(base, X.shape[1])])
        if proxy_bins:
            predictor_args.setdefault('bin_columns', list(range(base, X.shape[1])))
            predictor_args.setdefault('bins', proxy_bins)
    y = table.values(dataset)
    start = time.perf_counter()
    predictor = NARPredictor(seed=seed, **predictor_args).fit(X[:len(train)], y[train])
    fit_seconds = time.perf_counter() - start
    scores = predictor.rank_score(X[len(train):])
    out = {**ranking_figures(scores, y[test]), 'train_size': int(len(train)), 'test_size': int(len(test)),
           'dataset': dataset, 'seed': seed, 'fit_seconds': round(fit_seconds, 3)}
    if proxies:
        out['proxies'] = list(proxies)
        if proxy_bins:
            out['proxy_bins'] = int(proxy_bins)
    if transfer_dataset is not None:
        out['transfer'] = {'dataset': transfer_dataset, **ranking_figures(scores, table.values(transfer_dataset)[test])}
    return out


def run(args) -> int:
    from ..spaces.adapter import adapter_for
    check_output_file(args.json, '--json file')
    adapter = adapter_for(args.space)
    table = adapter.open_table(args.benchmark)
    proxies: list[str] = []
    store = None
    test_limit = args.test_limit
    if args.with_proxies:
        from ..proxies import resolve_names, resolve_table_names
        names = [n.strip() for n in args.with_proxies.split(',') if n.strip()]
        proxies = resolve_table_names(names) if args.proxy_table else resolve_names(names)  # a table: any column
        if args.proxy_table:
            store = adapter.proxy_source(proxies, table=args.proxy_table, exact_table=False)
        else:
            store = adapter.proxy_source(proxies, data=args.proxy_data, seed=args.seed, cache_dir=args.proxy_cache,
                                         device=args.device)
            test_limit = 2000 if test_limit is None else test_limit  # computing proxies costs ~0.1-1 s per cell
    elif args.proxy_table:
        raise ValueError('--proxy-table needs --with-proxies NAMES (the columns to read)')
    if args.proxy_bins and not proxies:
        raise ValueError('--proxy-bins needs --with-proxies NAMES (the proxies to bin)')
    predictor_args = {'num_tiers': args.tiers, 'epochs': args.epochs, 'rank_weight': args.rank_weight,
                      'rank_mode': args.rank_mode, 'device': args.device, 'verbose': True}
    result = evaluate_ranking(table, args.dataset, args.train_size, args.seed, transfer_dataset=args.transfer_dataset,
                              proxies=proxies, proxy_store=store, test_limit=test_limit,
                              predictor_args=predictor_args, paths=not args.no_paths, space=adapter,
                              proxy_bins=args.proxy_bins)
    extra = f' + proxies {",".join(proxies)}' if proxies else ''
    print(f'{args.predictor}{extra} trained on {result["train_size"]} {args.space} architectures ({args.dataset}, '
          f'seed {args.seed}), tested on {result["test_size"]}:')
    print(f'kendall {result["kendall"]:.4f}  spearman {result["spearman"]:.4f}  '
          f'top-1% precision {result["top1pct_precision"]:.4f}')
    if 'transfer' in result:
        t = result['transfer']
        print(f'transfer to {t["dataset"]}: kendall {t["kendall"]:.4f}  spearman {t["spearman"]:.4f}  '
              f'top-1% precision {t["top1pct_precision"]:.4f}')
    if args.json:
        print(f'results written to {write_json(args.json, result)}')
    return 0
