"""SPOS against RD-NAS: Kendall's tau of supernet rankings against standalone training, on one CPU core.

1. Ground truth: 100 seeded NB201 cells (uniform over all 15,625) trained standalone on the embedded
   digits (8x8, C=16, 1 cell/stage, 2 epochs, 3 seeds averaged); cached in
   bench/results/digits_nb201_ground_truth.csv (reused by later runs and other benchmarks).
2. Its reliability (Kendall between training seeds) and the teachers' own zero-shot Kendall.
3. For each method and seed, a supernet of the same size trained for the same epochs, then all 100
   cells ranked with inherited weights (BN recalibrated per cell): Kendall / Spearman against the
   ground truth's test loss and test accuracy.  Methods: ``spos`` (1 uniform path per step),
   ``spos2`` (2 uniform paths per step: the compute of RD-NAS), ``rdnas`` (synflow teacher),
   ``rdnas-flops`` (FLOPs teacher, as the released NB201 code).  Each run is a fresh process, so its
   peak RSS is its own.
4. With ``--cifar-dir``: one small SPOS and RD-NAS run on real CIFAR-10, ranked against NB201's
   200-epoch CIFAR-10 test accuracy.

  python bench/bench_rdnas.py                       # ~10 min on one core
  python bench/bench_rdnas.py --cifar-dir ../shared/data
Writes bench/results/rdnas.json.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings('ignore')

GT_CSV = 'bench/results/digits_nb201_ground_truth.csv'
NB201_CSV = '../shared/data/nb201_test_accuracy_200ep.csv'
METHODS = {
    'spos': dict(method='spos'),
    'spos2': dict(method='spos', paths_per_step=2),
    'rdnas': dict(method='rdnas', teacher='synflow'),
    'rdnas-flops': dict(method='rdnas', teacher='flops'),
}


def _rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run(job: dict, queue) -> None:
    """One training + ranking run (in a fresh process)."""
    import torch
    torch.set_num_threads(1)
    from nni_rank.supernet import (SupernetConfig, SupernetTrainer, calibration_batches, held_out_batches,
                                   rank_archs, rank_correlation)
    rss_start = _rss_mb()
    trainer = SupernetTrainer(SupernetConfig(**job['config']), log=None)
    rss_ready = _rss_mb()
    start = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - start
    rss_trained = _rss_mb()
    calib = calibration_batches(trainer.train_set, 4, 64, seed=0)
    start = time.perf_counter()
    scores = rank_archs(trainer.net, job['archs'], calib, held_out_batches(trainer.test_set))
    eval_s = time.perf_counter() - start
    acc, loss = [s['accuracy'] for s in scores], [s['loss'] for s in scores]
    out = {'seconds_per_epoch': train_s / trainer.config.epochs, 'train_seconds': train_s,
           'eval_seconds': eval_s, 'eval_seconds_per_arch': eval_s / len(scores),
           'final_train_ce': trainer.history[-1]['ce'], 'mean_subnet_accuracy': float(np.mean(acc)),
           'peak_rss_mb': _rss_mb(), 'rss_after_imports_mb': rss_start, 'rss_before_training_mb': rss_ready,
           'rss_after_training_mb': rss_trained}
    if job.get('truth_acc') is not None:
        out['vs_acc'] = rank_correlation(acc, job['truth_acc'])
    if job.get('truth_loss') is not None:
        out['vs_loss'] = rank_correlation([-v for v in loss], [-v for v in job['truth_loss']])
    if trainer.teacher is not None:
        out['teacher_scored'] = len(trainer.teacher.cache)
    queue.put(out)


def run_isolated(job: dict) -> dict:
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(job, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _mean_std(values) -> dict:
    arr = np.asarray(values, dtype=float)
    return {'mean': float(arr.mean()), 'std': float(arr.std(ddof=1)) if len(arr) > 1 else 0.0,
            'values': [float(v) for v in arr]}


def digits_part(args) -> dict:
    import torch
    torch.set_num_threads(1)
    from nni_rank.data import single_minibatch
    from nni_rank.experiment.digits_ground_truth import GroundTruthConfig, digits_ground_truth, open_ground_truth
    from nni_rank.supernet import ProxyTeacher, load_data, rank_correlation

    gt_cfg = GroundTruthConfig()
    start = time.perf_counter()
    digits_ground_truth(GT_CSV, gt_cfg, progress=True)
    gt_seconds = time.perf_counter() - start
    table = open_ground_truth(GT_CSV)
    archs = [a.to_str() for a in table.archs()]
    acc, loss = table.values('digits', 'test_acc'), table.values('digits', 'test_loss')
    pairs = [(i, j) for i in gt_cfg.seeds for j in gt_cfg.seeds if i < j]
    reliability = {
        'acc_seed_vs_seed': _mean_std([rank_correlation(table.values('digits', f'test_acc_seed{i}'),
                                                        table.values('digits', f'test_acc_seed{j}'))['kendall']
                                       for i, j in pairs]),
        'loss_seed_vs_seed': _mean_std([rank_correlation(-table.values('digits', f'test_loss_seed{i}'),
                                                         -table.values('digits', f'test_loss_seed{j}'))['kendall']
                                        for i, j in pairs]),
        'acc_vs_loss': rank_correlation(acc, -loss)['kendall']}
    print(f'ground truth: {len(archs)} cells, {gt_cfg.to_json()}; '
          f'seed-vs-seed Kendall acc {reliability["acc_seed_vs_seed"]["mean"]:.3f}, '
          f'loss {reliability["loss_seed_vs_seed"]["mean"]:.3f}')

    base = dict(dataset='digits', epochs=args.epochs, channels=gt_cfg.channels, cells_per_stage=gt_cfg.cells_per_stage,
                image_size=gt_cfg.image_size)
    train, _, num_classes = load_data('digits', image_size=gt_cfg.image_size)
    zero_shot = {}
    for proxy in ('synflow', 'flops'):
        teacher = ProxyTeacher(proxy, single_minibatch(train, 64, seed=0, num_classes=num_classes), num_classes,
                               gt_cfg.channels, gt_cfg.cells_per_stage)
        s = [teacher.score(a) for a in archs]
        zero_shot[proxy] = {'vs_acc': rank_correlation(s, acc), 'vs_loss': rank_correlation(s, -loss)}
        print(f'teacher {proxy:8s} alone: Kendall vs loss {zero_shot[proxy]["vs_loss"]["kendall"]:.3f}, '
              f'vs acc {zero_shot[proxy]["vs_acc"]["kendall"]:.3f}')

    runs: dict[str, list[dict]] = {}
    for name in args.methods:
        for seed in args.seeds:
            job = {'config': dict(base, seed=seed, **METHODS[name]), 'archs': archs,
                   'truth_acc': list(map(float, acc)), 'truth_loss': list(map(float, loss))}
            res = run_isolated(job)
            runs.setdefault(name, []).append(dict(res, seed=seed))
            print(f'{name:12s} seed {seed}: Kendall vs loss {res["vs_loss"]["kendall"]:.3f}, vs acc '
                  f'{res["vs_acc"]["kendall"]:.3f}; {res["seconds_per_epoch"]:.2f} s/epoch, '
                  f'peak RSS {res["peak_rss_mb"]:.0f} MB', flush=True)
    summary = {}
    for name, rs in runs.items():
        summary[name] = {
            'kendall_vs_loss': _mean_std([r['vs_loss']['kendall'] for r in rs]),
            'spearman_vs_loss': _mean_std([r['vs_loss']['spearman'] for r in rs]),
            'kendall_vs_acc': _mean_std([r['vs_acc']['kendall'] for r in rs]),
            'spearman_vs_acc': _mean_std([r['vs_acc']['spearman'] for r in rs]),
            'seconds_per_epoch': _mean_std([r['seconds_per_epoch'] for r in rs]),
            'eval_seconds_per_arch': _mean_std([r['eval_seconds_per_arch'] for r in rs]),
            'peak_rss_mb': max(r['peak_rss_mb'] for r in rs),
            'rss_before_training_mb': max(r['rss_before_training_mb'] for r in rs)}
    gain = {}
    if 'spos' in summary:
        for name in summary:
            if name.startswith('rdnas'):
                for key in ('kendall_vs_loss', 'kendall_vs_acc'):
                    b, r = summary['spos'][key]['mean'], summary[name][key]['mean']
                    gain[f'{name}_vs_spos_{key}_relative_%'] = 100.0 * (r - b) / abs(b) if b else None
    return {'ground_truth': {'csv': GT_CSV, 'config': gt_cfg.to_json(), 'num_archs': len(archs),
                             'seconds_this_run': gt_seconds, 'reliability': reliability},
            'zero_shot_teachers': zero_shot, 'supernet': {**base, 'methods': {k: METHODS[k] for k in args.methods},
                                                          'seeds': args.seeds},
            'summary': summary, 'gain': gain, 'runs': runs}


def cifar_part(args) -> dict:
    from nni_rank.benchmarks import open_benchmark
    table = open_benchmark(args.nb201_csv)
    archs = [a.to_str() for a in random.Random(0).sample(list(table.archs()), args.cifar_archs)]
    truth = [table.accuracy(a, 'cifar10') for a in archs]
    base = dict(dataset='cifar10', data_dir=args.cifar_dir, epochs=args.cifar_epochs, channels=args.cifar_channels,
                cells_per_stage=1, train_limit=args.cifar_train_limit, seed=0)
    out = {'settings': dict(base, num_archs=len(archs), benchmark=args.nb201_csv), 'methods': {}}
    for name in ('spos', 'rdnas'):
        res = run_isolated({'config': dict(base, **METHODS[name]), 'archs': archs, 'truth_acc': truth})
        out['methods'][name] = res
        print(f'CIFAR-10 {name:6s}: Kendall vs NB201 test acc {res["vs_acc"]["kendall"]:.3f} '
              f'(n={res["vs_acc"]["n"]}); {res["seconds_per_epoch"]:.1f} s/epoch, peak RSS {res["peak_rss_mb"]:.0f} MB',
              flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument('--epochs', type=int, default=20)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--methods', nargs='+', default=list(METHODS), choices=list(METHODS))
    p.add_argument('--cifar-dir', help='CIFAR-10 folder/.bin (e.g. ../shared/data): also run the CIFAR-10 comparison')
    p.add_argument('--nb201-csv', default=NB201_CSV)
    p.add_argument('--cifar-epochs', type=int, default=5)
    p.add_argument('--cifar-channels', type=int, default=8)
    p.add_argument('--cifar-train-limit', type=int, default=5000)
    p.add_argument('--cifar-archs', type=int, default=100)
    p.add_argument('--out', default='bench/results/rdnas.json')
    args = p.parse_args()
    start = time.perf_counter()
    report = {'digits': digits_part(args)}
    if args.cifar_dir:
        report['cifar10'] = cifar_part(args)
    report['total_seconds'] = time.perf_counter() - start
    s = report['digits']['summary']
    print(f'\n{"method":12s} {"Kendall vs loss":>18s} {"Kendall vs acc":>18s} {"s/epoch":>8s} {"peak RSS MB":>11s}')
    for name, v in s.items():
        print(f'{name:12s} {v["kendall_vs_loss"]["mean"]:8.3f} +- {v["kendall_vs_loss"]["std"]:.3f}   '
              f'{v["kendall_vs_acc"]["mean"]:8.3f} +- {v["kendall_vs_acc"]["std"]:.3f} '
              f'{v["seconds_per_epoch"]["mean"]:8.2f} {v["peak_rss_mb"]:11.0f}')
    for k, v in report['digits']['gain'].items():
        print(f'{k}: {v:+.1f}%' if v is not None else f'{k}: n/a')
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    print(f'written to {args.out} ({report["total_seconds"]:.0f} s)')


if __name__ == '__main__':
    main()
