"""Zero-cost proxies on NAS-Bench-201: rank correlation with real accuracy, agreement with the
NAS-Bench-Suite-Zero reference values, NaN counts and throughput.

    python bench/bench_proxies.py --n 1000 --seed 0 --data /work/shared/data --out bench/results/proxies.json

* a seeded uniform sample of ``--n`` of the 15,625 NB201 architectures (without replacement);
* each network freshly built with :func:`nni_rank.proxies.nb201_network` (PyTorch default init, seed
  ``seed + benchmark index``), every proxy computed by one :func:`compute_proxies` call on the same
  real CIFAR-10 training minibatch (``--batch`` 64 images drawn with ``--seed`` from
  ``cifar10_train_10k.bin``, random crop + flip as in the reference);
* Spearman's rho of each proxy with CIFAR-10 / CIFAR-100 test accuracy (200 epochs), on all sampled
  archs with a finite value and on those that are in the reference CSV (the published figures'
  population); Spearman between our values and the reference CSV's; NaN counts;
* throughput: all proxies together (build included) over the whole sample, and each proxy alone on the
  first ``--timing-n`` archs; ``--workers`` processes with ``--threads`` torch threads each
  (default 2 x 1: on 2 cores this beats 1 x 2, whose OpenMP threads spin-wait when the machine is
  shared);
* DAS combination rules against NASWOT, and label-free mean-rank ensembles.

Writes the JSON (per-arch values included) and prints a table.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Spearman with CIFAR-10 test accuracy published for NAS-Bench-Suite-Zero's values on its 9,445 archs.
PUBLISHED_C10_9445 = {'naswot': 0.81, 'jacob_cov': 0.80, 'params': 0.80, 'synflow': 0.78, 'flops': 0.77,
                      'snip': 0.60, 'grad_norm': 0.60, 'fisher': 0.55, 'grasp': 0.54}
#: Zero-cost paper notebook, all 15,625 archs (C10 / C100).
PUBLISHED_ALL = {'synflow': (0.737, 0.763), 'jacob_cov': (0.731, 0.704), 'snip': (0.596, None),
                 'grad_norm': (0.594, None), 'grasp': (0.514, None), 'fisher': (0.36, None)}
#: Label-free ensembles reported (the first is the package's recommended one, fixed before this run).
ENSEMBLES = {
    'mean_rank(synflow,jacob_cov,naswot,snip)': ['synflow', 'jacob_cov', 'naswot', 'snip'],
    'mean_rank(synflow,jacob_cov,naswot)': ['synflow', 'jacob_cov', 'naswot'],
    'mean_rank(synflow,jacob_cov,das)': ['synflow', 'jacob_cov', 'das'],
    'mean_rank(synflow,jacob_cov,snip)': ['synflow', 'jacob_cov', 'snip'],
}
RECOMMENDED_ENSEMBLE = 'mean_rank(synflow,jacob_cov,naswot,snip)'

# ------------------------------------------------------------------ worker side
_W: dict = {}


def _init_worker(x, y, threads: int) -> None:
    import torch
    torch.set_num_threads(threads)
    warnings.simplefilter('ignore')
    _W['batch'] = (x, y)


def _score(task):
    """(position, arch_str, init seed, names|None) -> (position, values, reasons, build_s, compute_s)."""
    from nni_rank.proxies import compute_proxies, nb201_network
    pos, arch, seed, names = task
    t0 = time.perf_counter()
    net = nb201_network(arch, seed=seed)
    t1 = time.perf_counter()
    report: dict = {}
    vals = compute_proxies(net, _W['batch'], names, seed=seed, report=report, warn=False)
    t2 = time.perf_counter()
    return pos, vals, report, t1 - t0, t2 - t1


def _warm(_):
    return _score((0, '|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|',
                   0, None))[0]


def _run_pool(pool, tasks, workers):
    t = time.perf_counter()
    out = list(pool.map(_score, tasks, chunksize=1))
    return out, time.perf_counter() - t


# ------------------------------------------------------------------ statistics
def _spearman(a, b) -> tuple[float, int]:
    from scipy.stats import spearmanr
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return float('nan'), int(ok.sum())
    return float(spearmanr(a[ok], b[ok])[0]), int(ok.sum())


def _kendall(a, b) -> float:
    from scipy.stats import kendalltau
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return float(kendalltau(a[ok], b[ok])[0]) if ok.sum() >= 3 else float('nan')


def _r(v, nd=3):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), nd)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=1000, help='number of sampled NB201 architectures')
    ap.add_argument('--seed', type=int, default=0, help='sample, minibatch and init seed')
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '/work/shared/data'),
                    help='folder with nb201_test_accuracy_200ep.csv, nb201_zc_reference_cifar10.csv, cifar10_train_10k.bin')
    ap.add_argument('--out', default='bench/results/proxies.json')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--no-augment', action='store_true', help='use the minibatch without crop/flip')
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--threads', type=int, default=1, help='torch threads per worker')
    ap.add_argument('--timing-n', type=int, default=20, help='archs timed per proxy alone (0: skip)')
    ap.add_argument('--names', default=None, help='comma-separated proxies (default: all)')
    args = ap.parse_args(argv)

    import pandas as pd
    import torch
    from nni_rank.data import load_cifar, single_minibatch
    from nni_rank.proxies import REFERENCE_COLUMNS, combine_ranks, resolve_names
    from nni_rank.proxies.activation import DAS_UNITS_WEIGHT

    data = Path(args.data)
    acc_csv, ref_csv, img_bin = (data / 'nb201_test_accuracy_200ep.csv', data / 'nb201_zc_reference_cifar10.csv',
                                 data / 'cifar10_train_10k.bin')
    for p in (acc_csv, ref_csv, img_bin):
        if not p.is_file():
            raise SystemExit(f'missing {p}: pass --data (or NNI_RANK_SHARED_DATA) pointing to the shared data folder')
    names = resolve_names(args.names.split(',') if args.names else None)

    acc = pd.read_csv(acc_csv)
    ref = pd.read_csv(ref_csv).set_index('arch_str')
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(acc), size=min(args.n, len(acc)), replace=False))
    sample = acc.iloc[pick].reset_index(drop=True)
    archs = sample['arch_str'].tolist()
    seeds = [args.seed + int(i) for i in sample['index']]

    ds = load_cifar(img_bin, 'cifar10', 'train')
    x, y = single_minibatch(ds, args.batch, seed=args.seed, augment=not args.no_augment)

    import multiprocessing as mp
    ctx = mp.get_context('spawn')
    t_start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(x, y, args.threads)) as pool:
        list(pool.map(_warm, range(args.workers)))  # imports + first-call costs out of the timings
        tasks = [(i, a, s, names) for i, (a, s) in enumerate(zip(archs, seeds))]
        results, wall_all = _run_pool(pool, tasks, args.workers)
        print(f'all {len(names)} proxies on {len(archs)} archs: {wall_all:.1f} s wall, '
              f'{len(archs) / wall_all:.3f} archs/s', flush=True)
        per_proxy = {}
        if args.timing_n > 0:
            k = min(args.timing_n, len(archs))
            for n in names:
                res, wall = _run_pool(pool, [(i, archs[i], seeds[i], [n]) for i in range(k)], args.workers)
                per_proxy[n] = {'archs_per_s': k / wall, 'mean_compute_s': float(np.mean([r[4] for r in res])),
                                'mean_build_s': float(np.mean([r[3] for r in res])), 'n': k}
            res, wall = _run_pool(pool, [(i, archs[i], seeds[i], names) for i in range(k)], args.workers)
            per_proxy['ALL'] = {'archs_per_s': k / wall, 'mean_compute_s': float(np.mean([r[4] for r in res])),
                                'mean_build_s': float(np.mean([r[3] for r in res])), 'n': k}

    results.sort(key=lambda r: r[0])
    values = {n: np.array([r[1][n] for r in results], dtype=float) for n in names}
    reasons = {}
    for r in results:
        for n, why in r[2].items():
            reasons.setdefault(n, {}).setdefault(why, 0)
            reasons[n][why] += 1
    build_s = np.array([r[3] for r in results])
    compute_s = np.array([r[4] for r in results])
    c10 = sample['cifar10_test_acc'].to_numpy(float)
    c100 = sample['cifar100_test_acc'].to_numpy(float)
    in_ref = np.array([a in ref.index for a in archs])

    table = {}
    for n in names:
        v = values[n]
        row = {'nan': int((~np.isfinite(v)).sum())}
        row['rho_c10'], row['n_finite'] = _spearman(v, c10)
        row['rho_c100'], _ = _spearman(v, c100)
        row['tau_c10'] = _kendall(v, c10)
        row['rho_c10_refset'], row['n_refset'] = _spearman(v[in_ref], c10[in_ref])
        row['rho_c100_refset'], _ = _spearman(v[in_ref], c100[in_ref])
        col = REFERENCE_COLUMNS.get(n)
        if col is not None and in_ref.any():
            refv = np.array([ref.at[a, col] for a in np.array(archs)[in_ref]], dtype=float)
            row['rho_vs_reference'], row['n_vs_reference'] = _spearman(v[in_ref], refv)
            row['reference_rho_c10_refset'], _ = _spearman(refv, c10[in_ref])
        row['published_c10_9445'] = PUBLISHED_C10_9445.get(n)
        pub = PUBLISHED_ALL.get(n)
        row['published_c10_all'] = pub[0] if pub else None
        row['published_c100_all'] = pub[1] if pub else None
        if n in per_proxy:
            row['alone_archs_per_s'] = per_proxy[n]['archs_per_s']
            row['alone_mean_compute_s'] = per_proxy[n]['mean_compute_s']
        if n in reasons:
            row['nan_reasons'] = reasons[n]
        table[n] = row

    # DAS: combination weights of log N_A against the distinguishing ability (weight 1 = NASWOT)
    das_rules = {}
    if {'das_distinguish', 'das_units'} <= set(names):
        B = len(x)
        d, u = values['das_distinguish'], values['das_units']
        for w in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0):
            s = d + w * B * np.log(u)
            das_rules[f'distinguish + {w:g}*B*log(N_A)'] = {
                'rho_c10': _spearman(s, c10)[0], 'rho_c100': _spearman(s, c100)[0],
                'rho_c10_refset': _spearman(s[in_ref], c10[in_ref])[0]}
        das_rules['units only (log N_A)'] = {'rho_c10': _spearman(u, c10)[0], 'rho_c100': _spearman(u, c100)[0],
                                             'rho_c10_refset': _spearman(u[in_ref], c10[in_ref])[0]}
        das_rules['mean_rank(das_distinguish, das_units)'] = {
            k: _spearman(combine_ranks({'das_distinguish': d[m], 'das_units': u[m]}), t[m])[0]
            for k, t, m in (('rho_c10', c10, slice(None)), ('rho_c100', c100, slice(None)),
                            ('rho_c10_refset', c10, in_ref))}

    ensembles = {}
    for label, members in ENSEMBLES.items():
        if set(members) <= set(names):
            score = combine_ranks({m: values[m] for m in members})
            best_single = max((table[m]['rho_c10'] for m in names if math.isfinite(table[m]['rho_c10'])), default=None)
            ensembles[label] = {
                'members': members, 'rho_c10': _spearman(score, c10)[0], 'rho_c100': _spearman(score, c100)[0],
                'tau_c10': _kendall(score, c10), 'rho_c10_refset': _spearman(score[in_ref], c10[in_ref])[0],
                'beats_every_single_proxy_c10': bool(best_single is not None and _spearman(score, c10)[0] > best_single),
                'best_single_rho_c10': best_single}

    result = {
        'config': {**vars(args), 'names': names, 'n_archs': len(archs), 'n_in_reference': int(in_ref.sum()),
                   'das_units_weight': DAS_UNITS_WEIGHT, 'torch': torch.__version__,
                   'python': platform.python_version(), 'cpu_count': os.cpu_count(),
                   'minibatch': f'{len(x)} CIFAR-10 train images from {img_bin.name}, seed {args.seed}, '
                                f'augment={not args.no_augment}'},
        'throughput': {
            'all_proxies_archs_per_s': len(archs) / wall_all, 'wall_s': wall_all,
            'mean_build_s': float(build_s.mean()), 'mean_compute_s': float(compute_s.mean()),
            'median_compute_s': float(np.median(compute_s)), 'max_compute_s': float(compute_s.max()),
            'workers': args.workers, 'threads_per_worker': args.threads, 'per_proxy_alone': per_proxy,
            'total_wall_s': time.perf_counter() - t_start},
        'proxies': table, 'das_rules': das_rules, 'ensembles': ensembles,
        'archs': [{'index': int(i), 'arch_str': a, 'cifar10_test_acc': float(a10), 'cifar100_test_acc': float(a100),
                   **{n: (float(values[n][j]) if math.isfinite(values[n][j]) else None) for n in names}}
                  for j, (i, a, a10, a100) in enumerate(zip(sample['index'], archs, c10, c100))],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=float))

    # ------------------------------------------------------------------ table
    print(f'\n{len(archs)} NB201 archs (seed {args.seed}), {int(in_ref.sum())} of them in the reference CSV; '
          f'minibatch {len(x)}; {args.workers} workers x {args.threads} threads')
    hdr = (f'{"proxy":16s} {"nan":>4s} {"rho C10":>8s} {"rho C100":>8s} {"C10 ref-set":>11s} {"published":>9s} '
           f'{"vs ref":>7s} {"ref C10":>7s} {"alone/s":>8s}')
    print(hdr)
    print('-' * len(hdr))
    for n, row in table.items():
        f = lambda v, w=8: f'{v:{w}.3f}' if isinstance(v, float) and math.isfinite(v) else f'{"-":>{w}s}'  # noqa: E731
        print(f'{n:16s} {row["nan"]:4d} {f(row["rho_c10"])} {f(row["rho_c100"])} {f(row["rho_c10_refset"], 11)} '
              f'{f(row.get("published_c10_9445"), 9)} {f(row.get("rho_vs_reference"), 7)} '
              f'{f(row.get("reference_rho_c10_refset"), 7)} {f(row.get("alone_archs_per_s"))}')
    for label, e in ensembles.items():
        print(f'{label:45s} rho C10 {e["rho_c10"]:.3f}  C100 {e["rho_c100"]:.3f}  tau C10 {e["tau_c10"]:.3f}  '
              f'beats every single: {e["beats_every_single_proxy_c10"]}')
    for label, e in das_rules.items():
        print(f'DAS {label:40s} rho C10 {e["rho_c10"]:.3f}  C100 {e["rho_c100"]:.3f}')
    th = result['throughput']
    print(f'throughput: {th["all_proxies_archs_per_s"]:.3f} archs/s all proxies (build {th["mean_build_s"]*1e3:.1f} ms, '
          f'compute {th["mean_compute_s"]:.3f} s mean per arch per worker); total {th["total_wall_s"]:.0f} s')
    return result


if __name__ == '__main__':
    main()
