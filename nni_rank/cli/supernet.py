"""``nni-rank supernet`` (train an NB201 supernet with SPOS or RD-NAS) and ``nni-rank supernet-rank``
(rank cells with a trained supernet and compare with a benchmark)."""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from .common import check_output_file, write_json, non_negative_float, non_negative_int, positive_float, positive_int

SUPERNET_DEFAULT_SAVE = 'nni-rank-results/supernet.pt'


def add_parser(sub) -> None:
    p = sub.add_parser('supernet', help='train a NAS-Bench-201 weight-sharing supernet (SPOS or RD-NAS)',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--space', default='nb201', choices=['nb201'])
    p.add_argument('--method', default='spos', choices=['spos', 'rdnas'])
    p.add_argument('--dataset', default='digits', choices=['digits', 'cifar10'])
    p.add_argument('--data-dir', help='local CIFAR-10 folder or .bin file (for --dataset cifar10)')
    p.add_argument('--epochs', type=positive_int, default=30)
    p.add_argument('--seed', type=non_negative_int, default=0)
    p.add_argument('--save', default=SUPERNET_DEFAULT_SAVE, help='checkpoint, written after every epoch')
    p.add_argument('--resume', action='store_true', help='continue from the checkpoint at --save (an error when there is none)')
    p.add_argument('--batch-size', type=positive_int, default=64)
    p.add_argument('--lr', type=positive_float, default=0.05)
    p.add_argument('--channels', type=positive_int, default=16)
    p.add_argument('--cells-per-stage', type=positive_int, default=1, help='NB201 uses 5; 1 keeps CPU runs quick')
    p.add_argument('--image-size', type=positive_int, help='input size (default native: digits 8, CIFAR 32; CIFAR is area-downsampled)')
    p.add_argument('--train-limit', type=positive_int, help='use only the first N training images')
    p.add_argument('--include-none', action='store_true', help="also sample the 'none' op while training")
    p.add_argument('--paths-per-step', type=positive_int, default=1, help='SPOS: uniform paths trained per step '
                                                                  '(2 = the compute of RD-NAS)')
    g = p.add_argument_group('RD-NAS')
    g.add_argument('--teacher', default='naswot', help='zero-cost proxy used as teacher (naswot, synflow, flops, params, ...)')
    g.add_argument('--teacher-store', action='store_true',
                   help='take teacher scores from nni_rank.proxies.ProxyStore (full-size NB201 nets, on-disk cache)')
    g.add_argument('--teacher-table', metavar='CSV',
                   help="take teacher scores from a proxy table (arch_str + a column named as --teacher, e.g. the "
                        "output of 'nni-rank proxies --space nb201 --all'): full-size scores at no cost")
    g.add_argument('--rank-weight', type=non_negative_float, default=2.0, help='maximum weight of the ranking loss')
    g.add_argument('--rank-schedule', default='sin', choices=['sin', 'linear', 'constant'])
    g.add_argument('--margin', type=non_negative_float, default=6.7, help='minimum group distance of a sampled pair')
    g.add_argument('--score-groups', type=non_negative_int, default=0,
                   help='K >= 2: pair cells from different teacher-score quantile groups instead of op-group distance')
    g.add_argument('--rank-margin', type=non_negative_float, default=0.1, help='ranking-loss margin per unit of normalised distance')
    g.add_argument('--rank-loss', default='margin', choices=['hinge', 'margin'],
                   help="margin: relu(loss_good - loss_bad + margin), both subnets move (ranks better on CIFAR-10); "
                        "hinge: the paper's, loss_bad detached")
    g.add_argument('--pairs-per-step', type=positive_int, default=1,
                   help='pairs per step (equal compute: SPOS with --paths-per-step twice this)')
    p.add_argument('--device', default='cpu')
    p.set_defaults(func=run_train)

    r = sub.add_parser('supernet-rank', help='rank cells with a trained supernet; Kendall tau against a benchmark',
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument('--load', required=True, help='checkpoint written by nni-rank supernet')
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument('--archs', help='file of architecture strings (one per line, or a JSON list)')
    src.add_argument('--sample', type=positive_int, help='rank N cells drawn (seeded) from the benchmark')
    r.add_argument('--benchmark', required=True, help='benchmark table (.csv, .pth, .db); a digits ground-truth CSV '
                                                      'from bench/bench_rdnas.py for --dataset digits')
    r.add_argument('--dataset', help="benchmark dataset (default: the checkpoint's training dataset)")
    r.add_argument('--metric', help='benchmark metric (default: its accuracy)')
    r.add_argument('--by', choices=['accuracy', 'loss'], help='supernet score (default: loss when the metric is a loss)')
    r.add_argument('--data-dir', help="evaluation data when not the checkpoint's (CIFAR-10 folder)")
    r.add_argument('--calib-batches', type=non_negative_int, default=4, help='training batches to recalibrate BatchNorm per subnet')
    r.add_argument('--top-k', type=positive_int, default=5)
    r.add_argument('--seed', type=non_negative_int, default=0)
    r.add_argument('--json', help='write {"kendall", "spearman", "n", ...} here')
    r.add_argument('--device', default='cpu')
    r.set_defaults(func=run_rank)


def run_train(args) -> int:
    from ..spaces.nb201 import OPS
    from ..supernet import TRAIN_OPS, SupernetConfig, SupernetTrainer
    save = check_output_file(args.save, '--save checkpoint')
    if args.resume:
        if not save.is_file():
            raise FileNotFoundError(f'--resume: no supernet checkpoint at {save} (drop --resume to train from scratch)')
        trainer = SupernetTrainer.resume(save, device=args.device)
        if args.epochs != trainer.config.epochs:
            raise ValueError(f'{save} was set up for {trainer.config.epochs} epochs; resume with --epochs '
                             f'{trainer.config.epochs} (the cosine schedule depends on it)')
        print(f'resuming {save} at epoch {trainer.epoch}/{trainer.config.epochs}')
    else:
        cfg = SupernetConfig(
            method=args.method, dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs, seed=args.seed,
            batch_size=args.batch_size, lr=args.lr, channels=args.channels, cells_per_stage=args.cells_per_stage,
            image_size=args.image_size, train_limit=args.train_limit, paths_per_step=args.paths_per_step,
            ops=OPS if args.include_none else TRAIN_OPS, teacher=args.teacher, teacher_store=args.teacher_store,
            teacher_table=args.teacher_table, rank_weight=args.rank_weight,
            rank_schedule=args.rank_schedule, margin=args.margin, score_groups=args.score_groups,
            rank_margin=args.rank_margin, rank_loss=args.rank_loss, pairs_per_step=args.pairs_per_step,
            device=args.device)
        trainer = SupernetTrainer(cfg)
        print(f'training an NB201 supernet (C={cfg.channels}, {cfg.cells_per_stage} cell/stage) with {cfg.method} '
              f'on {trainer.train_set.description}, {cfg.epochs} epochs, seed {cfg.seed}')
    history = trainer.train(save=save)
    secs = [h['seconds'] for h in history]
    print(f'done: {len(history)} epochs, {sum(secs) / max(1, len(secs)):.2f} s/epoch; checkpoint {save}')
    return 0


def _read_arch_file(path: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f'architecture file not found: {p}')
    text = p.read_text().strip()
    if text.startswith('['):
        items = json.loads(text)
        return [it if isinstance(it, str) else it[0] for it in items]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith('#')]


def _open_table(path: str, dataset: str):
    if path.endswith('.csv') and ',' not in path:
        from ..benchmarks.csv_table import CsvTable
        return CsvTable(path, space='nb201', default_dataset=dataset)  # unprefixed columns belong to `dataset`
    from ..benchmarks import open_benchmark
    return open_benchmark(path, 'nb201')


def run_rank(args) -> int:
    from ..spaces.nb201 import NB201Arch
    from ..supernet import (calibration_batches, held_out_batches, load_data, load_supernet, rank_archs,
                            rank_correlation, top_k)
    check_output_file(args.json, '--json file')
    net, cfg = load_supernet(args.load, args.device)
    dataset = args.dataset or cfg.dataset
    table = _open_table(args.benchmark, dataset)
    metric = table.accuracy_metric(dataset, args.metric)
    by = args.by or ('loss' if 'loss' in metric else 'accuracy')
    if args.archs:
        archs = [NB201Arch.parse(a) for a in _read_arch_file(args.archs)]
        missing = [a.to_str() for a in archs if a not in table]
        if missing:
            raise LookupError(f'{len(missing)} of {len(archs)} architectures are not in {args.benchmark}, '
                              f'e.g. {missing[0]}')
    else:
        pool = list(table.archs())
        if not 0 < args.sample <= len(pool):
            raise ValueError(f'--sample must be in 1..{len(pool)} (the benchmark size), got {args.sample}')
        archs = random.Random(args.seed).sample(pool, args.sample)
    if not archs:
        raise ValueError('no architectures to rank')
    train, test, _ = load_data(cfg.dataset, args.data_dir or cfg.data_dir, cfg.image_size)
    calib = calibration_batches(train, args.calib_batches, cfg.batch_size, seed=args.seed)
    scores = rank_archs(net, archs, calib, held_out_batches(test), args.device, progress=len(archs) > 50)
    truth = [table.accuracy(a, dataset, metric) for a in archs]
    # both sides oriented "higher is better" so that a consistent ranking gives a positive tau
    predicted = [s['accuracy'] if by == 'accuracy' else -s['loss'] for s in scores]
    corr = rank_correlation(predicted, [-t if 'loss' in metric else t for t in truth])
    best = top_k(scores, args.top_k, by)
    print(f'{corr["n"]} cells ranked by supernet {by} against {metric} ({dataset}) of {args.benchmark}')
    print(f'Kendall tau {corr["kendall"]:.4f}   Spearman rho {corr["spearman"]:.4f}')
    for i, s in enumerate(best, 1):
        print(f'  top-{i}: {s["arch"]}  supernet acc {s["accuracy"]:.2f}  loss {s["loss"]:.4f}  '
              f'{metric} {table.accuracy(s["arch"], dataset, metric):.4f}')
    if args.json:
        payload = dict(corr, metric=metric, dataset=dataset, by=by, checkpoint=str(args.load),
                       top_k=[dict(s, truth=table.accuracy(s['arch'], dataset, metric)) for s in best],
                       scores=[dict(s, truth=t) for s, t in zip(scores, truth)])
        print(f'written to {write_json(args.json, payload)}')
    return 0
