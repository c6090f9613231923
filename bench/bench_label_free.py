"""Label-free zero-cost scores on NAS-Bench-201: AZ-NAS's components and the ``zc_ensemble`` combination.

    python bench/bench_label_free.py --data /work/shared/data            # compute (resumable), then report
    python bench/bench_label_free.py --data /work/shared/data --no-compute

* cells: the 1,000 seeded uniform NB201 cells of ``bench/results/proxies.json`` (drawn there with
  ``numpy.random.default_rng(0)`` without replacement), whose values of the older proxies (jacob_cov,
  naswot, synflow, params, flops...) are reused; the same networks (PyTorch default init, seed = NB201
  index) on the same real CIFAR-10 minibatch (64 images of ``cifar10_train_10k.bin``, seed 0, crop + flip);
* the new components (``--names``) are computed one cell at a time, one process, one torch thread, and
  cached with their seconds per cell in ``--cache`` (a CSV outside the repo; rerunning resumes);
* every component and combination: Spearman / Kendall with CIFAR-10 test, CIFAR-100 test and CIFAR-10
  validation accuracy (200 epochs), on the whole sample (an estimate of the all-15,625 figure, with a
  bootstrap 95% interval) and on its cells among the 9,445 de-duplicated ones of
  ``nb201_zc_reference_cifar10.csv``;
* combinations chosen WITHOUT test labels: AZ-NAS's published rule (sum of log ranks) fixed in advance,
  and the members of ``zc_ensemble`` (a per-model sum of log empirical CDFs whose quantile tables come
  from the cells' proxy values, no labels) chosen on CIFAR-10 *validation* accuracy (a different
  training run and split than the test figures reported) among the candidate sets costing one forward
  and one backward -- see ``choose_on_validation``; ``--write-calibration`` stores the chosen tables as
  the package's calibration (rerun afterwards to time the stored ensemble);
* VKDNW (slow) on the first ``--vkdnw-n`` cells, alone and in VKDNW_agg.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NEW = ['az_expressivity', 'az_progressivity', 'az_trainability']
OLD = ['jacob_cov', 'naswot', 'synflow', 'snip', 'grad_norm', 'params', 'flops']
#: Published Spearman over all 15,625 NB201 cells (C10, C100, ImageNet16-120).
PUBLISHED = {
    'AZ-NAS (Lee & Ham, CVPR 2024)': {'c10': 0.913, 'c100': None, 'imagenet16': None},
    'VKDNW_agg (Tybl & Neumann, CVPR 2025)': {'c10': 0.919, 'c100': 0.919, 'imagenet16': 0.906},
}


def compute(args, names: list[str], cache: str, n: int) -> None:
    """Score the first ``n`` cells with ``names`` into the CSV ``cache`` (resumes where it stopped)."""
    import torch
    from nni_rank.proxies import compute_proxies, nb201_network, proxy_batch
    torch.set_num_threads(1)
    warnings.simplefilter('ignore')
    archs = json.loads(Path(args.proxies_json).read_text())['archs'][:n]
    cache = Path(cache)
    done = set()
    if cache.exists():
        with cache.open() as f:
            done = {int(r['index']) for r in csv.DictReader(f)}
    batch, _, _ = proxy_batch(Path(args.data) / 'cifar10_train_10k.bin', 64, 0)
    new_file = not cache.exists()
    with cache.open('a', newline='') as f:
        w = csv.writer(f)
        if new_file:
            w.writerow(['index', 'arch_str', *names, 'seconds'])
        for k, a in enumerate(archs):
            if a['index'] in done:
                continue
            net = nb201_network(a['arch_str'], seed=a['index'])
            t = time.perf_counter()
            vals = compute_proxies(net, batch, names, seed=a['index'], warn=False)
            w.writerow([a['index'], a['arch_str'], *[vals[n] for n in names], time.perf_counter() - t])
            f.flush()
            if k % 50 == 0:
                print(f'{k}/{len(archs)}', flush=True)


# ------------------------------------------------------------------ analysis
AZ4 = ['az_expressivity', 'az_progressivity', 'az_trainability', 'flops']
EXTRAS = ['jacob_cov', 'naswot', 'synflow']
TARGETS = {'c10_test': 'cifar10_test_acc', 'c100_test': 'cifar100_test_acc', 'c10_valid': 'cifar10_valid_acc'}


def load_table(args):
    import pandas as pd
    data = Path(args.data)
    ours = pd.DataFrame(json.loads(Path(args.proxies_json).read_text())['archs'])
    comp = pd.read_csv(args.cache).drop(columns=['arch_str', 'seconds'])
    valid = pd.read_csv(data / 'nb201_valid_accuracy_200ep.csv')[['index', 'cifar10_valid_acc']]
    table = ours.merge(comp, on='index').merge(valid, on='index')
    dedup = set(pd.read_csv(data / 'nb201_zc_reference_cifar10.csv')['index'])
    table['in_dedup'] = table['index'].isin(dedup)
    return table


def _finite_or_worst(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return np.where(np.isfinite(v), v, -np.inf)  # undefined = worst, as the strategies rank NaN last


def correlations(score, table, mask=None) -> dict:
    from scipy.stats import kendalltau, spearmanr
    s = _finite_or_worst(score)
    m = np.ones(len(s), bool) if mask is None else np.asarray(mask)
    out = {}
    for key, col in TARGETS.items():
        acc = table[col].to_numpy(float)[m]
        out[f'rho_{key}'] = round(float(spearmanr(s[m], acc)[0]), 4)
        out[f'tau_{key}'] = round(float(kendalltau(s[m], acc)[0]), 4)
    return out


def bootstrap_ci(score, acc, reps=1000, seed=0) -> list[float]:
    """95% percentile interval of Spearman's rho over cells resampled with replacement."""
    from scipy.stats import rankdata
    rng = np.random.default_rng(seed)
    s, a = _finite_or_worst(score), np.asarray(acc, float)
    vals = []
    for _ in range(reps):
        i = rng.integers(0, len(s), len(s))
        vals.append(np.corrcoef(rankdata(s[i]), rankdata(a[i]))[0, 1])
    return [round(float(q), 4) for q in np.percentile(vals, [2.5, 97.5])]


def log_rank_sum(table, names) -> np.ndarray:
    """AZ-NAS's population rule: sum of log(rank / N) (undefined values tie at the bottom)."""
    from scipy.stats import rankdata
    n = len(table)
    return sum(np.log(rankdata(_finite_or_worst(table[k])) / n) for k in names)


def per_model(table, names, calibration) -> np.ndarray:
    from nni_rank.proxies.ensemble import ensemble_from
    rows = table[names].to_numpy(float)
    from nni_rank.proxies.ensemble import CALIBRATION
    tables = {k: (CALIBRATION if calibration is None else calibration)[k] for k in names}
    return np.array([ensemble_from({k: (float(v), None) for k, v in zip(names, r)}, tables)[0] for r in rows])


def candidate_sets() -> dict[str, list[str]]:
    out = {}
    for base_name, base in (('AZ4', AZ4), ('AZ4-trainability', [c for c in AZ4 if c != 'az_trainability'])):
        for k in range(len(EXTRAS) + 1):
            for extra in itertools.combinations(EXTRAS, k):
                out['+'.join([base_name, *extra])] = base + list(extra)
    return out


def choose_on_validation(table, sets, calibration, rows=None) -> tuple[str, dict[str, float]]:
    """The candidate set whose per-model score has the highest Spearman with C10 *validation* accuracy."""
    from scipy.stats import spearmanr
    rows = np.arange(len(table)) if rows is None else rows
    acc = table['cifar10_valid_acc'].to_numpy(float)[rows]
    rhos = {name: float(spearmanr(_finite_or_worst(per_model(table, names, calibration))[rows], acc)[0])
            for name, names in sets.items()}
    return max(rhos, key=rhos.get), rhos


def time_ensemble(args, names_list, n=20) -> dict:
    import torch
    from nni_rank.proxies import compute_proxies, nb201_network, proxy_batch
    torch.set_num_threads(1)
    warnings.simplefilter('ignore')
    archs = json.loads(Path(args.proxies_json).read_text())['archs'][:n]
    batch, _, _ = proxy_batch(Path(args.data) / 'cifar10_train_10k.bin', 64, 0)
    out = {}
    for names in names_list:
        ts = []
        for a in archs:
            net = nb201_network(a['arch_str'], seed=a['index'])
            t = time.perf_counter()
            compute_proxies(net, batch, names, seed=a['index'], warn=False)
            ts.append(time.perf_counter() - t)
        out[','.join(names)] = round(float(np.mean(ts)), 3)
    return out


def report(args) -> dict:
    from nni_rank.proxies.ensemble import calibrate
    table = load_table(args)
    dedup = table['in_dedup'].to_numpy()
    components = [c for c in NEW + OLD if c in table.columns]
    singles = {}
    for c in components:
        singles[c] = {'nan': int((~np.isfinite(table[c].to_numpy(float))).sum()),
                      'all': correlations(table[c], table), 'dedup': correlations(table[c], table, dedup)}
    calibration = calibrate({c: table[c].to_numpy(float) for c in AZ4 + EXTRAS})
    sets = candidate_sets()
    # the cost budget (one forward and ONE backward per cell) rules out trainability's block backward
    affordable = {k: v for k, v in sets.items() if 'az_trainability' not in v}
    chosen, _ = choose_on_validation(table, affordable, calibration)
    best_any, valid_rhos = choose_on_validation(table, sets, calibration)
    # two-fold check of the choice: choose on the validation accuracy of one half, report the other half
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(table))
    halves = [perm[: len(perm) // 2], perm[len(perm) // 2:]]
    folds = []
    for a, b in ((0, 1), (1, 0)):
        pick, _ = choose_on_validation(table, affordable, calibration, halves[a])
        s = per_model(table, sets[pick], calibration)
        mask = np.zeros(len(table), bool)
        mask[halves[b]] = True
        folds.append({'chosen_on_half': a, 'chosen': pick, 'measured_on_other_half': correlations(s, table, mask)})
    combos = {}
    for name, names in sets.items():
        s = per_model(table, names, calibration)
        pop = log_rank_sum(table, names)
        combos[name] = {'members': names, 'valid_rho_c10': round(valid_rhos[name], 4),
                        'per_model': {'all': correlations(s, table), 'dedup': correlations(s, table, dedup)},
                        'population_log_rank_sum': {'all': correlations(pop, table),
                                                    'dedup': correlations(pop, table, dedup)}}
    best = per_model(table, sets[chosen], calibration)
    ci = {k: bootstrap_ci(best, table[TARGETS[k]]) for k in ('c10_test', 'c100_test')}
    az_pop = log_rank_sum(table, AZ4)
    az_ci = {k: bootstrap_ci(az_pop, table[TARGETS[k]]) for k in ('c10_test', 'c100_test')}
    seconds = pd_mean(args.cache)
    result = {
        'sample': f'{len(table)} seeded uniform NB201 cells (those of bench/results/proxies.json); '
                  f'{int(dedup.sum())} of them among the 9,445 de-duplicated cells',
        'setup': '64 CIFAR-10 training images (cifar10_train_10k.bin, seed 0, crop+flip), PyTorch default init '
                 '(seed = NB201 index), train-mode BatchNorm; one process, one torch thread, machine shared',
        'seconds_per_cell_new_components_mean': seconds,
        'singles': singles,
        'aznas_published_rule_on_our_components': {
            'rule': 'sum of log(rank/N) of expressivity, progressivity, trainability, flops (AZ-NAS, fixed in advance)',
            'all': correlations(az_pop, table), 'dedup': correlations(az_pop, table, dedup), 'ci95_all': az_ci},
        'combinations': combos,
        'zc_ensemble': {
            'chosen': chosen, 'members': sets[chosen],
            'how_chosen': 'per-model score sum_k log F_k(x_k), F_k the empirical CDF of component k over the '
                          'sample\'s proxy values (no labels); among the candidate member sets that cost one '
                          'forward and one backward (no trainability block backward: the per-cell time budget), '
                          'the one with the highest Spearman with CIFAR-10 *validation* accuracy (NB201 '
                          'cifar10-valid run); test accuracies never used',
            'best_on_validation_without_cost_limit': {'chosen': best_any, 'members': sets[best_any],
                                                      'all': combos[best_any]['per_model']['all'],
                                                      'dedup': combos[best_any]['per_model']['dedup']},
            'all': correlations(best, table), 'dedup': correlations(best, table, dedup), 'ci95_all': ci,
            'two_fold_check': folds,
            'calibration_levels': list(map(float, __import__('nni_rank.proxies.ensemble', fromlist=['LEVELS']).LEVELS)),
            'calibration': {k: list(calibration[k]) for k in sets[chosen]},
        },
        'published_spearman_all_15625': PUBLISHED,
        'imagenet16_120': 'not measured: the project has no ImageNet16-120 images',
    }
    if args.vkdnw_n and Path(args.vkdnw_cache).is_file():
        result['vkdnw'] = vkdnw_report(args, table)
    if args.timing_n:
        result['seconds_per_cell_one_thread'] = time_ensemble(
            args, [['zc_ensemble'], ['jacob_cov'], ['az_trainability', 'zc_ensemble']], args.timing_n)
    return result


def vkdnw_report(args, table) -> dict:
    """VKDNW alone and VKDNW_agg (AZ-NAS's four components + VKDNW, sum of log ranks, as the authors' search
    code aggregates them) on the cells scored with VKDNW, beside AZ-NAS's rule on the same cells."""
    import pandas as pd
    v = pd.read_csv(args.vkdnw_cache)
    sub = table.merge(v[['index', 'vkdnw', 'seconds']], on='index').reset_index(drop=True)
    return {'cells': len(sub), 'seconds_per_cell_mean': round(float(sub['seconds'].mean()), 3),
            'vkdnw': correlations(sub['vkdnw'], sub),
            'vkdnw_agg(AZ4+vkdnw, log-rank sum)': correlations(log_rank_sum(sub, AZ4 + ['vkdnw']), sub),
            'AZ4 (same cells)': correlations(log_rank_sum(sub, AZ4), sub),
            'zc_ensemble (same cells)': correlations(per_model(sub, ZC_MEMBERS(), None), sub)}


def ZC_MEMBERS() -> list[str]:
    from nni_rank.proxies.ensemble import ENSEMBLE_COMPONENTS
    return list(ENSEMBLE_COMPONENTS)


def pd_mean(path) -> float:
    import pandas as pd
    return round(float(pd.read_csv(path)['seconds'].mean()), 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.environ.get('NNI_RANK_SHARED_DATA', '/work/shared/data'))
    ap.add_argument('--proxies-json', default='bench/results/proxies.json')
    ap.add_argument('--cache', default='/tmp/nni_rank_label_free_components.csv')
    ap.add_argument('--names', default=','.join(NEW))
    ap.add_argument('--n', type=int, default=1000)
    ap.add_argument('--no-compute', action='store_true')
    ap.add_argument('--vkdnw-n', type=int, default=60, help='cells also scored with the (slow) VKDNW')
    ap.add_argument('--vkdnw-cache', default='/tmp/nni_rank_label_free_vkdnw.csv')
    ap.add_argument('--out', default='bench/results/label_free.json')
    ap.add_argument('--timing-n', type=int, default=20, help='cells timed for zc_ensemble (0: skip)')
    ap.add_argument('--write-calibration', action='store_true',
                    help="store the chosen members' quantile tables as zc_ensemble's calibration (package file)")
    args = ap.parse_args()
    if not args.no_compute:
        compute(args, args.names.split(','), args.cache, args.n)
        if args.vkdnw_n:
            compute(args, ['vkdnw'], args.vkdnw_cache, args.vkdnw_n)
    result = report(args)
    if args.write_calibration:
        from nni_rank.proxies.ensemble import CALIBRATION_FILE
        z = result['zc_ensemble']
        CALIBRATION_FILE.write_text(json.dumps({
            'source': 'proxy values (no labels) of the cells of bench/bench_label_free.py; ' + result['sample'],
            'members_chosen_by': z['how_chosen'], 'levels': z['calibration_levels'],
            'quantiles': z['calibration']}, indent=1))
        print(f'calibration written to {CALIBRATION_FILE}; rerun to time and report the stored ensemble')
    Path(args.out).write_text(json.dumps(result, indent=1))
    z = result['zc_ensemble']
    print(f"zc_ensemble = {z['chosen']}: rho C10 {z['all']['rho_c10_test']} {z['ci95_all']['c10_test']}, "
          f"C100 {z['all']['rho_c100_test']} {z['ci95_all']['c100_test']}, dedup C10 {z['dedup']['rho_c10_test']}")
    print(f'written to {args.out}')


if __name__ == '__main__':
    main()
