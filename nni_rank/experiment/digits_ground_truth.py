"""A standalone-training ground truth for NAS-Bench-201 cells on the embedded digits.

There is no NAS benchmark for digits, so :func:`digits_ground_truth` makes one: a fixed, seeded set
of NB201 cells (drawn uniformly from all 15,625, ``none`` included), each trained from scratch with
:func:`~nni_rank.evaluators.training.train_and_test` under several seeds, test accuracy and test loss
averaged over the seeds.  Results are cached in a CSV (``arch_str, test_acc, test_loss`` plus one
column per seed) with a ``.meta.json`` sidecar holding the training set-up; a later call with the
same set-up reuses (and, when interrupted, completes) it.  :func:`open_ground_truth` opens the CSV
as a :class:`~nni_rank.benchmarks.BenchmarkTable` whose dataset is ``'digits'``.
"""
from __future__ import annotations

import csv
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..spaces.nb201 import NUM_ARCHS, NB201Arch, all_archs

__all__ = ['GroundTruthConfig', 'sample_nb201_archs', 'digits_ground_truth', 'open_ground_truth']


@dataclass
class GroundTruthConfig:
    """How each cell is trained (the cache is valid only for an identical config)."""
    num_archs: int = 100
    arch_seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 2
    lr: float = 0.05
    batch_size: int = 64
    channels: int = 16
    cells_per_stage: int = 1
    image_size: int = 8
    split_seed: int = 0

    def to_json(self) -> dict:
        d = asdict(self)
        d['seeds'] = list(self.seeds)
        return d


def sample_nb201_archs(n: int, seed: int = 0) -> list[NB201Arch]:
    """``n`` distinct NB201 cells drawn uniformly (``random.Random(seed)``) from all 15,625."""
    if not 0 < n <= NUM_ARCHS:
        raise ValueError(f'number of architectures must be in 1..{NUM_ARCHS}, got {n}')
    space = list(all_archs())
    return [space[i] for i in random.Random(seed).sample(range(NUM_ARCHS), n)]


def _check(cfg: GroundTruthConfig) -> None:
    if not cfg.seeds:
        raise ValueError('at least one training seed is needed')
    for name in ('epochs', 'batch_size', 'channels', 'cells_per_stage', 'image_size'):
        if int(getattr(cfg, name)) < 1:
            raise ValueError(f'{name} must be a positive integer, got {getattr(cfg, name)}')
    if not cfg.lr > 0:
        raise ValueError(f'lr must be positive, got {cfg.lr}')


def _read_cache(path: Path, cfg: GroundTruthConfig) -> dict[str, dict]:
    meta = _meta_path(path)
    if not (path.is_file() and meta.is_file()):
        return {}
    with open(meta) as f:
        if json.load(f) != cfg.to_json():
            return {}  # other training set-up: recompute (and overwrite)
    with open(path, newline='') as f:
        return {row['arch_str']: row for row in csv.DictReader(f)}


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + '.meta.json')


def _write(path: Path, rows: list[dict], cfg: GroundTruthConfig) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ['arch_str', 'test_acc', 'test_loss'] + [f'{m}_seed{s}' for s in cfg.seeds for m in ('test_acc', 'test_loss')]
    tmp = path.with_name(path.name + '.tmp')
    with open(tmp, 'w', newline='') as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)
    with open(_meta_path(path), 'w') as f:
        json.dump(cfg.to_json(), f, indent=1)


@torch.no_grad()
def _test_loss(model, loader, device) -> float:
    model.eval()
    total, n = 0.0, 0
    for x, y in loader:
        total += F.cross_entropy(model(x.to(device)), y.to(device), reduction='sum').item()
        n += len(y)
    return total / n


def train_one(arch: NB201Arch, cfg: GroundTruthConfig, seed: int, loaders, device='cpu') -> tuple[float, float]:
    """(test accuracy %, test loss) of ``arch`` trained from scratch with init/order seed ``seed``."""
    from ..evaluators.training import train_and_test
    from ..spaces.nb201_net import build_nb201
    from ..data import make_loader
    train_ds, test_loader = loaders
    torch.manual_seed(seed)
    model = build_nb201(arch, num_classes=10, channels=cfg.channels, cells_per_stage=cfg.cells_per_stage)
    train_loader = make_loader(train_ds, cfg.batch_size, shuffle=True, seed=seed)
    acc = train_and_test(model, train_loader, test_loader, cfg.epochs, cfg.lr, device)
    loss = _test_loss(model, test_loader, device) if math.isfinite(acc) else math.nan
    return acc, loss


def digits_ground_truth(path: str | os.PathLike, config: GroundTruthConfig | None = None, device: str = 'cpu',
                        progress: bool = True) -> list[dict]:
    """Train (or reuse from the CSV cache at ``path``) the seeded set of cells; returns the CSV rows.

    Each row: ``arch_str``, ``test_acc`` (mean over seeds, %), ``test_loss`` (mean cross-entropy) and
    the per-seed values.  The CSV is rewritten after every architecture, so an interrupted run resumes.
    """
    from ..data import load_digits_dataset, make_loader
    cfg = config or GroundTruthConfig()
    _check(cfg)
    path = Path(path)
    cached = _read_cache(path, cfg)
    archs = sample_nb201_archs(cfg.num_archs, cfg.arch_seed)
    train_ds = load_digits_dataset('train', cfg.image_size, 3, seed=cfg.split_seed)
    test_loader = make_loader(load_digits_dataset('test', cfg.image_size, 3, seed=cfg.split_seed), 512, shuffle=False)
    rows: list[dict] = []
    start = time.perf_counter()
    trained = 0
    for i, arch in enumerate(archs):
        key = arch.to_str()
        if key in cached:
            rows.append(cached[key])
            continue
        row = {'arch_str': key}
        accs, losses = [], []
        for s in cfg.seeds:
            acc, loss = train_one(arch, cfg, s, (train_ds, test_loader), device)
            row[f'test_acc_seed{s}'], row[f'test_loss_seed{s}'] = acc, loss
            accs.append(acc)
            losses.append(loss)
        row['test_acc'] = sum(accs) / len(accs)
        row['test_loss'] = sum(losses) / len(losses)
        rows.append(row)
        trained += 1
        _write(path, rows + [cached[a.to_str()] for a in archs[i + 1:] if a.to_str() in cached], cfg)
        if progress:
            el = time.perf_counter() - start
            print(f'[ground truth {i + 1}/{len(archs)}] {key} acc {row["test_acc"]:.2f} '
                  f'loss {row["test_loss"]:.4f} ({el:.0f} s)', flush=True)
    if trained or not path.is_file():
        _write(path, rows, cfg)
    return rows


def open_ground_truth(path: str | os.PathLike):
    """The ground-truth CSV as a benchmark table (dataset ``'digits'``, metrics ``test_acc``, ``test_loss``, ...);
    cells whose training diverged (``nan``) are left out with a warning that counts them."""
    from ..benchmarks.csv_table import CsvTable
    return CsvTable(path, space='nb201', default_dataset='digits', on_bad_rows='skip')
