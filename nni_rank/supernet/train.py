"""Supernet training: SPOS (uniform single paths) and RD-NAS (ranking distillation), with checkpoints.

SPOS step: draw ``paths_per_step`` uniform cells, sum their cross-entropy losses, one SGD step.
RD-NAS step: draw ``pairs_per_step`` pairs ``(a, b)`` with :class:`~nni_rank.supernet.sampler.MarginSampler`
(or, with ``score_groups=K``, :class:`~nni_rank.supernet.sampler.ScoreGroupSampler`), train both
and add ``lambda(t) * relu(loss_good - loss_bad + rank_margin * d / d_max)`` where the teacher
(:class:`~nni_rank.supernet.teacher.ProxyTeacher`) names the good one, ``d`` is the pair's group
distance and ``lambda(t) = rank_weight * sin(0.8 pi t)`` over training progress ``t`` in [0, 1]
(``rank_schedule='sin'``, the NB201 schedule of the reference code; ``'linear'``: ``rank_weight * t``;
``'constant'``).  The default ``rank_loss='margin'`` (with ``rank_margin=0.1``) moves both subnets: the
good one's loss down and the bad one's up; ``'hinge'``, the paper's, detaches ``loss_bad``.  On CIFAR-10
against NB201 the margin form ranks at Kendall 0.49 against the hinge's 0.20 (NASWOT teacher, 3 seeds,
``bench/results/rdnas_cifar.json``).  Pairs the teacher
cannot order (tie, NaN) get no ranking term.  Equal compute: an RD-NAS step trains ``2 * pairs_per_step``
paths, so compare it with SPOS at ``paths_per_step = 2 * pairs_per_step`` (``paths_trained`` counts them).

Optimiser as the reference (SGD momentum 0.9, weight decay 5e-4, cosine from ``lr`` to ``lr_min``
per step) but ``lr`` 0.05 by default instead of 0.025: CPU runs are tens of epochs, not 250.
A checkpoint (:meth:`SupernetTrainer.save`) holds only tensors and plain Python values, so it loads
with ``torch.load(weights_only=True)``; resuming continues bit-for-bit (RNG, loader order, samplers,
teacher cache).
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..spaces.nb201 import OPS
from .nb201_supernet import NB201Supernet
from .sampler import TRAIN_OPS, MarginSampler, ScoreGroupSampler, UniformSampler
from .teacher import ProxyTeacher

__all__ = ['SupernetConfig', 'SupernetTrainer', 'load_data', 'pair_rank_loss', 'rank_weight_at', 'METHODS', 'CHECKPOINT_FORMAT']

METHODS = ('spos', 'rdnas')
SCHEDULES = ('sin', 'linear', 'constant')
RANK_LOSSES = ('hinge', 'margin')
CHECKPOINT_FORMAT = 'nni-rank-supernet/1'


@dataclass
class SupernetConfig:
    """Everything that defines a supernet training run (saved in checkpoints)."""
    method: str = 'spos'
    dataset: str = 'digits'
    data_dir: str | None = None
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.05
    lr_min: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 5e-4
    grad_clip: float = 5.0
    channels: int = 16
    cells_per_stage: int = 1
    image_size: int | None = None
    train_limit: int | None = None
    augment: bool = False
    ops: tuple[str, ...] = TRAIN_OPS
    paths_per_step: int = 1
    teacher: str = 'naswot'  # best teacher on CIFAR-10 (bench/results/rdnas_cifar.json)
    teacher_batch_size: int = 64
    teacher_store: bool = False
    teacher_table: str | None = None  # a proxy table (full-size scores) instead of computing the teacher
    rank_weight: float = 2.0
    rank_schedule: str = 'sin'
    margin: float = 6.7
    score_groups: int = 0
    rank_margin: float = 0.1
    rank_loss: str = 'margin'  # the paper's is 'hinge' (bench/results/rdnas_cifar.json: margin ranks better)
    pairs_per_step: int = 1
    seed: int = 0
    device: str = 'cpu'

    def __post_init__(self):
        self.ops = tuple(self.ops)
        if self.method not in METHODS:
            raise ValueError(f'method must be one of {METHODS}, got {self.method!r}')
        if self.dataset not in ('digits', 'cifar10'):
            raise ValueError(f"dataset must be 'digits' or 'cifar10', got {self.dataset!r}")
        if self.dataset == 'cifar10' and not self.data_dir:
            raise ValueError('dataset cifar10 needs data_dir: a local CIFAR-10 folder or .bin file (nothing is downloaded)')
        if self.rank_loss not in RANK_LOSSES:
            raise ValueError(f'rank_loss must be one of {RANK_LOSSES}, got {self.rank_loss!r}')
        if self.rank_schedule not in SCHEDULES:
            raise ValueError(f'rank_schedule must be one of {SCHEDULES}, got {self.rank_schedule!r}')
        if self.image_size is not None and int(self.image_size) < 1:
            raise ValueError(f'image_size must be a positive integer or None (native size), got {self.image_size}')
        for name in ('epochs', 'batch_size', 'channels', 'cells_per_stage', 'paths_per_step', 'pairs_per_step',
                     'teacher_batch_size'):
            if int(getattr(self, name)) < 1:
                raise ValueError(f'{name} must be a positive integer, got {getattr(self, name)}')
        if not self.lr > 0 or self.lr_min < 0:
            raise ValueError(f'need lr > 0 and lr_min >= 0, got {self.lr}, {self.lr_min}')
        if self.score_groups == 1 or self.score_groups < 0:
            raise ValueError(f'score_groups must be 0 (op-group margin sampler) or >= 2, got {self.score_groups}')
        if self.rank_weight < 0:
            raise ValueError(f'rank_weight must be >= 0, got {self.rank_weight}')
        unknown = [op for op in self.ops if op not in OPS]
        if unknown or len(set(self.ops)) < 2:
            raise ValueError(f'ops must be at least two distinct ops of {OPS}, got {self.ops}')

    def to_json(self) -> dict:
        d = asdict(self)
        d['ops'] = list(self.ops)
        return d

    @classmethod
    def from_json(cls, d: dict) -> 'SupernetConfig':
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def load_data(dataset: str = 'digits', data_dir: str | None = None, image_size: int | None = None,
              train_limit: int | None = None, split_seed: int = 0):
    """``(train_dataset, test_dataset, num_classes)`` for ``digits`` (embedded) or ``cifar10`` (local files).

    ``image_size``: None keeps the native size (digits 8, CIFAR 32); CIFAR images are area-downsampled
    (a cheap CPU protocol: 16x16 costs a quarter of 32x32 per step).
    """
    if dataset == 'digits':
        from ..data import load_digits_dataset
        train = load_digits_dataset('train', image_size or 8, 3, seed=split_seed)
        test = load_digits_dataset('test', image_size or 8, 3, seed=split_seed)
        if train_limit is not None and 0 < train_limit < len(train):
            train.tensors = tuple(t[:train_limit] for t in train.tensors)
    elif dataset == 'cifar10':
        if not data_dir:
            raise ValueError('cifar10 needs --data-dir: a local CIFAR-10 folder or .bin file')
        from ..data import load_cifar
        train = load_cifar(data_dir, 'cifar10', 'train', limit=train_limit)
        test = load_cifar(data_dir, 'cifar10', 'test')
        if image_size is not None and image_size != train.images.shape[-1]:
            for ds in (train, test):
                ds.tensors = (F.interpolate(ds.images, size=(image_size, image_size), mode='area'), ds.labels)
    else:
        raise ValueError(f"dataset must be 'digits' or 'cifar10', got {dataset!r}")
    return train, test, len(train.classes)


def pair_rank_loss(good: torch.Tensor, bad: torch.Tensor, kind: str = 'hinge', margin: float = 0.0) -> torch.Tensor:
    """Ranking loss of a pair whose teacher-preferred subnet has loss ``good``: ``relu(good - bad + margin)``;
    ``kind='hinge'`` (the paper) moves only the good subnet (``bad`` detached), ``'margin'`` both."""
    if kind not in RANK_LOSSES:
        raise ValueError(f'rank_loss must be one of {RANK_LOSSES}, got {kind!r}')
    return F.relu(good - (bad.detach() if kind == 'hinge' else bad) + margin)


def rank_weight_at(progress: float, weight: float, schedule: str = 'sin') -> float:
    """The ranking-loss weight lambda at training progress ``progress`` in [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    if schedule == 'sin':
        return weight * math.sin(0.8 * math.pi * progress)
    if schedule == 'linear':
        return weight * progress
    if schedule == 'constant':
        return weight
    raise ValueError(f'rank_schedule must be one of {SCHEDULES}, got {schedule!r}')


class SupernetTrainer:
    """Builds data, supernet, optimiser and samplers from a :class:`SupernetConfig` and trains it."""

    def __init__(self, config: SupernetConfig, log: Callable[[str], None] | None = print):
        self.config = cfg = config
        self.log = log or (lambda msg: None)
        self.device = torch.device(cfg.device)
        train, test, self.num_classes = load_data(cfg.dataset, cfg.data_dir, cfg.image_size, cfg.train_limit)
        self.train_set, self.test_set = train, test
        from ..data import make_loader
        self.loader = make_loader(train, cfg.batch_size, shuffle=True, seed=cfg.seed, augment=cfg.augment,
                                  drop_last=len(train) > cfg.batch_size)
        torch.manual_seed(cfg.seed)
        self.net = NB201Supernet(self.num_classes, cfg.channels, cfg.cells_per_stage).to(self.device)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                         weight_decay=cfg.weight_decay, nesterov=True)
        self.total_steps = cfg.epochs * len(self.loader)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, self.total_steps, eta_min=cfg.lr_min)
        self.uniform = UniformSampler(cfg.ops, seed=cfg.seed)
        self.teacher: ProxyTeacher | None = None
        self.pair_sampler: MarginSampler | ScoreGroupSampler = MarginSampler(cfg.ops, margin=cfg.margin,
                                                                             seed=cfg.seed + 1)
        if cfg.method == 'rdnas':
            from ..data import single_minibatch
            batch = single_minibatch(train, cfg.teacher_batch_size, seed=cfg.seed, num_classes=self.num_classes)
            store = {'store': True, 'data': cfg.data_dir if cfg.dataset == 'cifar10' else 'digits'} \
                if cfg.teacher_store else {'table': cfg.teacher_table} if cfg.teacher_table else {}
            self.teacher = ProxyTeacher(cfg.teacher, batch, self.num_classes, cfg.channels, cfg.cells_per_stage,
                                        seed=cfg.seed, device=cfg.device, **store)
            if cfg.score_groups:
                self.pair_sampler = ScoreGroupSampler(self.teacher.score, cfg.score_groups, cfg.ops, seed=cfg.seed + 1)
        self.epoch = 0
        self.step = 0
        self.paths_trained = 0
        self.history: list[dict] = []

    # ------------------------------------------------------------------ training
    def _spos_step(self, x, y) -> tuple[torch.Tensor, dict]:
        loss = sum(F.cross_entropy(self.net(x, self.uniform.sample()), y) for _ in range(self.config.paths_per_step))
        self.paths_trained += self.config.paths_per_step
        return loss, {'ce': loss.item() / self.config.paths_per_step}

    def _rdnas_step(self, x, y) -> tuple[torch.Tensor, dict]:
        cfg = self.config
        lam = rank_weight_at(self.step / max(1, self.total_steps), cfg.rank_weight, cfg.rank_schedule)
        loss, ce, rank_sum, ranked, dist_sum = 0.0, 0.0, 0.0, 0, 0.0
        for _ in range(cfg.pairs_per_step):
            a, b, dist = self.pair_sampler.sample_pair()
            loss_a = F.cross_entropy(self.net(x, a), y)
            loss_b = F.cross_entropy(self.net(x, b), y)
            loss = loss + loss_a + loss_b
            ce += loss_a.item() + loss_b.item()
            dist_sum += dist
            pref = self.teacher.prefers(a, b)
            if pref != 0:
                good, bad = (loss_a, loss_b) if pref > 0 else (loss_b, loss_a)
                rank = pair_rank_loss(good, bad, cfg.rank_loss, cfg.rank_margin * dist / self.pair_sampler.max_distance)
                loss = loss + lam * rank
                rank_sum += rank.item()
                ranked += 1
        n = cfg.pairs_per_step
        self.paths_trained += 2 * n
        return loss, {'ce': ce / (2 * n), 'rank': rank_sum / n, 'ranked': ranked / n, 'distance': dist_sum / n}

    def train_epoch(self) -> dict:
        """One pass over the training data; returns the epoch's statistics."""
        cfg = self.config
        self.net.train()
        step_fn = self._rdnas_step if cfg.method == 'rdnas' else self._spos_step
        start = time.perf_counter()
        sums: dict[str, float] = {}
        n = 0
        for x, y in self.loader:
            x, y = x.to(self.device), y.to(self.device)
            self.optimizer.zero_grad(set_to_none=True)
            loss, stats = step_fn(x, y)
            if not torch.isfinite(loss):
                raise RuntimeError(f'supernet training diverged at epoch {self.epoch + 1}, step {self.step} '
                                   f'(loss {loss.item()}); lower --lr')
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            n += 1
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + float(v)
        self.epoch += 1
        record = {'epoch': self.epoch, 'seconds': time.perf_counter() - start, 'steps': n,
                  'lr': self.optimizer.param_groups[0]['lr']}
        record.update({k: v / max(1, n) for k, v in sums.items()})
        if self.teacher is not None:
            record['teacher_cached'] = len(self.teacher.cache)
        self.history.append(record)
        return record

    def train(self, epochs: int | None = None, save: str | os.PathLike | None = None) -> list[dict]:
        """Train until epoch ``epochs`` (default: the config's); save after every epoch when ``save``."""
        target = self.config.epochs if epochs is None else int(epochs)
        if target > self.config.epochs:
            raise ValueError(f'cannot train to epoch {target}: the learning-rate schedule was set up for '
                             f'{self.config.epochs} epochs')
        from ..runtime import progress
        with progress(total=target, initial=self.epoch, desc=self.config.method, unit='epoch', leave=False) as bar:
            while self.epoch < target:
                rec = self.train_epoch()
                extra = f' rank {rec["rank"]:.4f} ({rec["ranked"]:.0%} pairs ranked)' if 'rank' in rec else ''
                self.log(f'[{self.config.method} epoch {rec["epoch"]}/{target}] loss {rec["ce"]:.4f}{extra} '
                         f'lr {rec["lr"]:.4f} ({rec["seconds"]:.1f} s)')
                if save is not None:
                    self.save(save)
                bar.update(1)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Tensors and plain values only (loadable with ``weights_only=True``)."""
        state = {
            'format': CHECKPOINT_FORMAT,
            'config': json.dumps(self.config.to_json()),
            'supernet_config': json.dumps(self.net.config()),
            'model': self.net.state_dict(),
            'optimizer': self.optimizer.state_dict(),
            'scheduler': self.scheduler.state_dict(),
            'epoch': self.epoch,
            'step': self.step,
            'paths_trained': self.paths_trained,
            'history': json.dumps(self.history),
            'rng_torch': torch.get_rng_state(),
            'rng_loader': self.loader.generator.get_state(),
            'uniform_sampler': json.dumps(self.uniform.state_dict()),
            'pair_sampler': json.dumps(self.pair_sampler.state_dict()),
        }
        if self.teacher is not None:
            state['teacher'] = json.dumps(self.teacher.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state['model'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.scheduler.load_state_dict(state['scheduler'])
        self.epoch, self.step = int(state['epoch']), int(state['step'])
        self.paths_trained = int(state.get('paths_trained', 0))
        self.history = json.loads(state['history'])
        torch.set_rng_state(state['rng_torch'])
        self.loader.generator.set_state(state['rng_loader'])
        self.uniform.load_state_dict(json.loads(state['uniform_sampler']))
        self.pair_sampler.load_state_dict(json.loads(state['pair_sampler']))
        if self.teacher is not None and 'teacher' in state:
            self.teacher.load_state_dict(json.loads(state['teacher']))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the checkpoint atomically (a crash mid-write leaves the previous one)."""
        from ..files import atomic_path
        with atomic_path(path) as tmp:
            torch.save(self.state_dict(), tmp)
        return Path(path)

    @classmethod
    def resume(cls, path: str | os.PathLike, log: Callable[[str], None] | None = print, **overrides) -> 'SupernetTrainer':
        """Rebuild the trainer of checkpoint ``path`` and restore its state (``overrides``: e.g. ``device``)."""
        state = read_checkpoint(path)
        cfg = SupernetConfig.from_json({**json.loads(state['config']), **overrides})
        trainer = cls(cfg, log)
        trainer.load_state_dict(state)
        return trainer


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Load one of our checkpoints with ``weights_only=True``; clear errors for missing/foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'supernet checkpoint not found: {path}')
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # noqa: BLE001 - unpickling errors come in many types
        raise ValueError(f'{path} is not a readable nni-rank supernet checkpoint: {err}') from None
    if not isinstance(state, dict) or state.get('format') != CHECKPOINT_FORMAT:
        raise ValueError(f'{path} is not an nni-rank supernet checkpoint (format {CHECKPOINT_FORMAT})')
    return state


def load_supernet(path: str | os.PathLike, device: str = 'cpu') -> tuple[NB201Supernet, SupernetConfig]:
    """The trained supernet of a checkpoint (no optimiser, no data) and its training config."""
    state = read_checkpoint(path)
    net = NB201Supernet(**json.loads(state['supernet_config']))
    net.load_state_dict(state['model'])
    return net.to(device).eval(), SupernetConfig.from_json(json.loads(state['config']))
