"""SPOS against RD-NAS at equal compute on real CIFAR-10, ranked against NAS-Bench-201 (200 epochs).

Protocol (one *setting* = supernet size, data, epochs; every variant and seed of a setting ranks the
same subnets):
* subnets: ``--subnets`` seeded NB201 cells without ``none`` (the supernet trains four ops; see
  :func:`nni_rank.supernet.protocol.benchmark_subnets`), ground truth their NB201 CIFAR-10 test accuracy;
* data: the CIFAR-10 train split of ``--data-dir`` for training and BatchNorm recalibration
  (2 seeded batches of 64 per subnet), its test split for the subnet score (accuracy, loss);
* equal compute: the baseline ``spos2`` trains 2 uniform paths per step, RD-NAS a pair per step,
  same steps (``paths_trained`` is recorded to prove it); ``spos`` (1 path) is the cheaper reference.
Variants are ``NAME`` or ``NAME:key=value,key=value`` overriding :class:`SupernetConfig` fields, e.g.
``rdnas-flops:rank_weight=4`` or ``rdnas-flops:teacher=zc_ensemble`` (any proxy name);
``teacher_table=full`` reads the teacher from ``--teacher-table`` (scores of the full-size NB201 networks,
e.g. ``nni-rank proxies --space nb201 --all`` output) instead of computing it at the supernet's size, and
``--teachers NAME:full`` records that table's zero-shot Kendall.  Results are merged
into ``--out`` under ``settings[--name]`` after every run, and runs already there are skipped (re-run the
same command to resume).

  python bench/bench_rdnas_cifar.py --name cpu-C8-n1-16px-e10                   # CPU, 4-10 min a run
  python bench/bench_rdnas_cifar.py --variants --teachers flops naswot          # zero-shot teacher figures only
  python bench/bench_rdnas_cifar.py --preset paper --data-dir /data/cifar10 --device cuda   # GPU
Per setting: ``subnets``, per variant the per-seed Kendall (``kendall``, by held-out accuracy, and
``kendall_by_loss``), the teacher's per-seed Kendall, and ``kendall_gain_over_spos`` (mean variant minus
mean ``spos2``).
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings('ignore')

DATA = os.environ.get('NNI_RANK_SHARED_DATA', '../shared/data')
PAPER_LOSS = dict(rank_loss='hinge', rank_margin=0.0)  # the paper's hinge; SupernetConfig's default is the margin loss
VARIANTS = {
    'spos': dict(method='spos'),
    'spos2': dict(method='spos', paths_per_step=2),
    'spos4': dict(method='spos', paths_per_step=4),  # equal compute for RD-NAS with pairs_per_step=2
    'rdnas-flops': dict(method='rdnas', teacher='flops', **PAPER_LOSS),
    'rdnas-synflow': dict(method='rdnas', teacher='synflow', **PAPER_LOSS),
    'rdnas-naswot': dict(method='rdnas', teacher='naswot', **PAPER_LOSS),
    'rdnas-params': dict(method='rdnas', teacher='params', **PAPER_LOSS),
    'rdnas-zc_ensemble': dict(method='rdnas', teacher='zc_ensemble', **PAPER_LOSS),
}
BASELINE = 'spos2'
PRESETS = {
    # the RD-NAS paper / PicoNAS NB201 protocol (GPU): C=16, 5 cells per stage, 32x32, 250 epochs
    'paper': dict(channels=16, cells_per_stage=5, image_size=32, epochs=250, batch_size=64, lr=0.025,
                  augment=True, subnets=200),
    'paper50': dict(channels=16, cells_per_stage=5, image_size=32, epochs=50, batch_size=64, lr=0.025,
                    augment=True, subnets=200),
    # the CPU protocol of this session (chosen by the SPOS sweep in bench/results/rdnas_cifar.json)
    'cpu': dict(channels=8, cells_per_stage=1, image_size=16, epochs=10, batch_size=64, lr=0.05,
                augment=False, subnets=200),
    # a seconds-long smoke run (tests)
    'tiny': dict(channels=4, cells_per_stage=1, image_size=8, epochs=1, batch_size=64, lr=0.05,
                 augment=False, subnets=20, train_limit=256),
}
SETTING_KEYS = ('channels', 'cells_per_stage', 'image_size', 'epochs', 'batch_size', 'lr', 'augment', 'train_limit')


def parse_variant(text: str) -> tuple[str, dict]:
    """``NAME[:key=value,...]`` -> (label, config overrides)."""
    name, _, extra = text.partition(':')
    if name not in VARIANTS:
        raise ValueError(f'unknown variant {name!r}; expected one of {sorted(VARIANTS)}')
    over = dict(VARIANTS[name])
    for item in filter(None, extra.split(',')):
        key, sep, value = item.partition('=')
        if not sep:
            raise ValueError(f'variant option {item!r} is not key=value')
        try:
            over[key] = json.loads(value)
        except json.JSONDecodeError:
            over[key] = value
    return text, over


def _stats(values) -> dict:
    arr = np.asarray(values, dtype=float)
    return {'mean': float(arr.mean()), 'std': float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
            'values': [float(v) for v in arr]}


def summarise(setting: dict) -> None:
    """Per-variant means / seed spread and the gain of every variant over the equal-compute SPOS
    (variants without a finished run are dropped)."""
    for label in [k for k, run in setting['variants'].items() if not run['seeds']]:
        del setting['variants'][label]
    for run in setting['variants'].values():
        seeds = sorted(run['seeds'], key=int)
        per = [run['seeds'][s] for s in seeds]
        run['kendall'] = _stats([r['quality']['by_accuracy']['kendall'] for r in per])
        run['kendall_by_loss'] = _stats([r['quality']['by_loss']['kendall'] for r in per])
        if all('teacher' in r['quality'] for r in per):
            run['teacher_kendall'] = _stats([r['quality']['teacher']['kendall'] for r in per])
    for label, run in setting['variants'].items():
        if run['config'].get('method') != 'rdnas':
            continue
        base_label = equal_compute_baseline(run['config'])
        base = setting['variants'].get(base_label)
        if base is None or len(run['seeds']) != len(base['seeds']):
            continue
        b, r = base['kendall']['mean'], run['kendall']['mean']
        run['baseline'] = base_label
        run['kendall_gain_over_spos'] = r - b
        run['kendall_gain_over_spos_relative_%'] = 100.0 * (r - b) / abs(b) if b else None
        run['kendall_by_loss_gain_over_spos'] = run['kendall_by_loss']['mean'] - base['kendall_by_loss']['mean']
        if 'teacher_kendall' in run:
            run['kendall_minus_teacher'] = r - run['teacher_kendall']['mean']


def equal_compute_baseline(config: dict) -> str:
    """The SPOS variant that trains as many paths per step as an RD-NAS config (2 per pair)."""
    pairs = int(config.get('pairs_per_step', 1))
    return BASELINE if pairs == 1 else f'spos{2 * pairs}'


def teacher_quality(proxy: str, setting: dict, args, archs: list[str], truth: list[float]) -> dict:
    """Zero-shot Kendall of one teacher proxy on the subnets (seed 0 minibatch and initialisation);
    ``NAME:full`` reads it from ``--teacher-table`` instead."""
    from nni_rank.data import single_minibatch
    from nni_rank.supernet import ProxyTeacher, load_data, rank_correlation
    proxy, _, source = proxy.partition(':')
    if source:
        teacher = ProxyTeacher(proxy, table=full_table(args, source))
    else:
        train, _, num_classes = load_data('cifar10', args.data_dir, setting['image_size'], setting.get('train_limit'))
        teacher = ProxyTeacher(proxy, single_minibatch(train, 64, seed=0, num_classes=num_classes), num_classes,
                               setting['channels'], setting['cells_per_stage'], device=args.device)
    start = time.perf_counter()
    quality = rank_correlation([teacher.score(a) for a in archs], truth)
    return {**quality, 'seconds': time.perf_counter() - start}


def full_table(args, value: str) -> str:
    """``full`` -> the ``--teacher-table`` path."""
    if value != 'full':
        raise ValueError(f"teacher table option must be 'full' (the --teacher-table file), got {value!r}")
    if not args.teacher_table:
        raise ValueError("'full' teacher scores need --teacher-table PATH")
    return args.teacher_table


def one_run(job: dict) -> dict:
    """Train and rank one (variant, seed); the entry stored under ``seeds``."""
    from nni_rank.runtime import set_threads
    from nni_rank.supernet import SupernetConfig
    from nni_rank.supernet.protocol import ranking_quality, train_and_rank
    set_threads(job['threads'])
    start = time.perf_counter()
    res = train_and_rank(SupernetConfig(**job['config']), job['archs'], save=job['save'])
    keep = {k: v for k, v in res.items() if k not in ('accuracy', 'loss', 'teacher')}
    return {**keep, 'quality': ranking_quality(res, job['truth']), 'seconds': time.perf_counter() - start,
            'mean_subnet_accuracy': float(np.mean(res['accuracy']))}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--name', help='setting name in the results file (default: derived from the setting)')
    p.add_argument('--preset', choices=list(PRESETS), default='cpu')
    p.add_argument('--data-dir', default=DATA, help='CIFAR-10 folder or folder with *train*/*test* .bin files')
    p.add_argument('--benchmark', default=None, help='NB201 CSV (default: DATA/nb201_test_accuracy_200ep.csv)')
    p.add_argument('--variants', nargs='*', default=['spos2', 'rdnas-flops', 'rdnas-naswot'])
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    for key in SETTING_KEYS + ('subnets',):
        kind = {'lr': float, 'augment': lambda v: v.lower() in ('1', 'true', 'yes')}.get(key, int)
        p.add_argument('--' + key.replace('_', '-'), type=kind)
    p.add_argument('--subnet-seed', type=int, default=0)
    p.add_argument('--device', default='cpu')
    p.add_argument('--threads', type=int, default=1, help='torch threads per run')
    p.add_argument('--jobs', type=int, default=1, help='runs in parallel processes')
    p.add_argument('--save-dir', help='write each run\'s supernet checkpoint here (NAME_VARIANT_seedS.pt)')
    p.add_argument('--teachers', nargs='*', default=[],
                   help='also record these proxies\' zero-shot Kendall on the subnets (networks of the setting\'s size)')
    p.add_argument('--teacher-table', help="proxy table for 'teacher_table=full' variants and 'NAME:full' teachers")
    p.add_argument('--out', default='bench/results/rdnas_cifar.json')
    args = p.parse_args()

    import torch
    from nni_rank.benchmarks import open_benchmark
    from nni_rank.runtime import set_threads
    from nni_rank.supernet.protocol import benchmark_subnets
    set_threads(args.threads)
    setting = dict(PRESETS[args.preset])
    for key in SETTING_KEYS + ('subnets',):
        if getattr(args, key) is not None:
            setting[key] = getattr(args, key)
    variants = dict(parse_variant(v) for v in args.variants)
    name = args.name or (f"{args.preset}-C{setting['channels']}-n{setting['cells_per_stage']}-"
                         f"{setting['image_size']}px-e{setting['epochs']}")
    bench_csv = args.benchmark or str(Path(args.data_dir) / 'nb201_test_accuracy_200ep.csv')
    archs, truth = benchmark_subnets(open_benchmark(bench_csv), setting['subnets'], seed=args.subnet_seed)

    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(out_path.read_text()) if out_path.exists() else {'settings': {}}
    record = report['settings'].setdefault(name, {'variants': {}})
    record.update({'setting': {**setting, 'data_dir': str(args.data_dir), 'device': args.device,
                               'benchmark': bench_csv, 'subnet_seed': args.subnet_seed},
                   'subnets': len(archs), 'baseline': BASELINE,
                   'torch': torch.__version__, 'threads': args.threads})
    train_keys = {k: setting[k] for k in SETTING_KEYS if k in setting}
    for proxy in args.teachers:
        record.setdefault('teachers_zero_shot', {})[proxy] = teacher_quality(proxy, setting, args, archs, truth)
        print(f"[{name}] teacher {proxy}: Kendall {record['teachers_zero_shot'][proxy]['kendall']:+.3f}", flush=True)
    jobs = []
    for label, over in variants.items():
        done = record['variants'].get(label, {}).get('seeds', {})
        table = full_table(args, over['teacher_table']) if 'teacher_table' in over else None
        for seed in args.seeds:
            if str(seed) in done:
                continue
            save = None
            if args.save_dir:
                save = str(Path(args.save_dir) / f"{name}_{label.replace(':', '_').replace(',', '_')}_seed{seed}.pt")
            config = dict(dataset='cifar10', data_dir=args.data_dir, seed=seed, device=args.device, **train_keys, **over)
            if table:
                config['teacher_table'] = table
            jobs.append({'label': label, 'seed': seed, 'config': config, 'archs': archs, 'truth': truth, 'save': save,
                         'threads': args.threads, 'override': over, 'teacher_table': table})

    def record_run(job: dict, entry: dict) -> None:
        label, seed, quality = job['label'], job['seed'], entry['quality']
        run = record['variants'].setdefault(label, {'config': job['override'], 'seeds': {}})
        if job['teacher_table']:
            run['teacher_table'] = job['teacher_table']
        run['seeds'][str(seed)] = entry
        teacher = f", teacher {quality['teacher']['kendall']:+.3f}" if 'teacher' in quality else ''
        print(f"[{name}] {label:32s} seed {seed}: Kendall {quality['by_accuracy']['kendall']:+.3f} "
              f"(by loss {quality['by_loss']['kendall']:+.3f}){teacher}; "
              f"{entry['train_seconds']:.0f}+{entry['eval_seconds']:.0f} s, {entry['paths_trained']} paths", flush=True)
        summarise(record)
        write_report()

    def write_report() -> None:
        from nni_rank.files import atomic_path
        with atomic_path(out_path) as tmp:
            Path(tmp).write_text(json.dumps(report, indent=1))

    if args.jobs == 1:
        for job in jobs:
            record_run(job, one_run(job))
    else:  # parallel runs (GPU machines with many cores); each worker is a fresh process
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        with ProcessPoolExecutor(args.jobs, mp_context=mp.get_context('spawn')) as pool:
            futures = {pool.submit(one_run, job): job for job in jobs}
            for future in as_completed(futures):
                record_run(futures[future], future.result())
    write_report()
    for label, run in record['variants'].items():
        if 'kendall' in run:
            gain = run.get('kendall_gain_over_spos')
            print(f"{label:32s} Kendall {run['kendall']['mean']:+.3f} +- {run['kendall']['std']:.3f}"
                  + (f"  gain over {run['baseline']} {gain:+.3f}" if gain is not None else '')
                  + (f"  teacher {run['teacher_kendall']['mean']:+.3f}" if 'teacher_kendall' in run else ''))
    print(f'written to {out_path}')


if __name__ == '__main__':
    try:
        main()
    except (ValueError, FileNotFoundError) as err:  # a bad variant, option or path: one line, no traceback
        raise SystemExit(f'bench_rdnas_cifar: {err}') from None
