"""RD-NAS as an NNI 3.0 one-shot strategy: SPOS supernet training plus ranking distillation.

>>> from nni.nas.experiment import NasExperiment
>>> from nni.nas.hub.pytorch import NasBench201
>>> from nni.nas.evaluator.pytorch import Classification
>>> NasExperiment(NasBench201(), Classification(...), RDNAS(teacher='flops')).run()

:class:`RDNAS` extends NNI's :class:`~nni.nas.strategy.RandomOneShot` (SPOS: same supernet
mutation hooks, same Lightning wrapping of the evaluator).  Its Lightning module
:class:`RankDistillLightningModule` replaces the training step: it draws two subnets at group
distance >= ``margin`` (op values containing ``conv`` form one group, the others a second), runs the
evaluator's own ``training_step`` on each, and adds ``lambda(t) * relu(loss_good - loss_bad.detach())``
where the teacher (a zero-cost proxy, or any ``callable(sample) -> float``, higher = better) names
the good one.  The standalone, CPU-friendly trainer is :mod:`nni_rank.supernet`.
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable, Sequence

import torch
from nni.mutable import Sample
from nni.nas.oneshot.pytorch.sampling import RandomSamplingLightningModule
from nni.nas.strategy import RandomOneShot

from ..supernet.sampler import group_distance
from ..supernet.train import RANK_LOSSES, SCHEDULES, pair_rank_loss, rank_weight_at

__all__ = ['RDNAS', 'RankDistillLightningModule', 'nb201_proxy_teacher']


def _value_group(value: Any) -> str:
    return 'conv' if 'conv' in str(value) else 'free'


def nb201_proxy_teacher(proxy: str = 'flops', **options) -> Callable[[Sample], float]:
    """A teacher for NNI ``NasBench201`` samples: :class:`~nni_rank.supernet.teacher.ProxyTeacher` scores
    (``options``: ``channels``, ``cells_per_stage``, ``num_classes``, ``batch``, ``input_size``, ``seed``)."""
    from ..supernet.teacher import ProxyTeacher
    teacher = ProxyTeacher(proxy, **options)

    def score(sample: Sample) -> float:
        return teacher.score(sample)  # NB201Arch.parse reads NNI's 'cell/i_j' samples
    score.teacher = teacher  # type: ignore[attr-defined]
    return score


class RankDistillLightningModule(RandomSamplingLightningModule):
    """SPOS Lightning module whose training step trains a margin-sampled pair with a ranking loss."""

    def __init__(self, training_module, teacher: Callable[[Sample], float], *, rank_weight: float = 2.0,
                 rank_schedule: str = 'sin', rank_loss: str = 'margin', rank_margin: float = 0.1, margin: float = 6.7,
                 exclude: Sequence[Any] = ('none',), seed: int = 0, max_tries: int = 100,
                 filter=None):  # pylint: disable=redefined-builtin
        super().__init__(training_module, filter)
        self.teacher, self.rank_weight, self.rank_schedule = teacher, rank_weight, rank_schedule
        self.rank_loss, self.rank_margin = rank_loss, rank_margin
        self.margin, self.exclude, self.max_tries = margin, tuple(exclude), max_tries
        self.rng = random.Random(seed)
        self._space: dict[str, list] | None = None

    # --------------------------------------------------------------- sampling
    def search_space(self) -> dict[str, list]:
        """label -> candidate values (``exclude`` removed) of the supernet's path-sampling modules."""
        if self._space is None:
            space: dict[str, list] = {}
            for module in self.supernet_modules():
                choice = getattr(module, 'choice', None)
                values = getattr(choice, 'values', None)
                if values is None:
                    raise TypeError(f'RDNAS supports LayerChoice / InputChoice supernets; '
                                    f'{type(module).__name__} ({getattr(module, "label", "?")}) has no discrete choice')
                kept = [v for v in values if v not in self.exclude]
                space[module.label] = kept or list(values)
            if not space:
                raise ValueError('the model space has no choice for RDNAS to sample')
            self._space = space
        return self._space

    def _uniform(self) -> Sample:
        return {label: self.rng.choice(values) for label, values in self.search_space().items()}

    def sample_pair(self) -> tuple[Sample, Sample, float]:
        """Two samples at group distance >= ``margin`` (the farthest of ``max_tries`` when unreachable)."""
        groups = {v: _value_group(v) for values in self.search_space().values() for v in values}
        labels = list(self.search_space())
        for _ in range(self._sampling_patience):
            a = self._uniform()
            if self.filter is None or self.filter(a):
                break
        best, best_d = None, -1.0
        for _ in range(self.max_tries):
            b = self._uniform()
            if self.filter is not None and not self.filter(b):
                continue
            d = group_distance([a[k] for k in labels], [b[k] for k in labels], groups)
            if d > best_d:
                best, best_d = b, d
            if d >= self.margin:
                break
        if best is None:
            raise RuntimeError(f'no sample passed the filter in {self.max_tries} tries')
        return a, best, best_d

    def activate(self, sample: Sample) -> None:
        """Make ``sample`` the active path of every supernet module."""
        memo = dict(sample)
        for module in self.supernet_modules():
            memo.update(module.resample(memo=memo))

    # --------------------------------------------------------------- training
    def _progress(self) -> float:
        try:
            total = float(self.trainer.estimated_stepping_batches)
        except Exception:  # noqa: BLE001 - no trainer / unknown length
            return 0.0
        return self.global_step / total if math.isfinite(total) and total > 0 else 0.0

    @staticmethod
    def _loss(output) -> torch.Tensor:
        loss = output['loss'] if isinstance(output, dict) else output
        if not isinstance(loss, torch.Tensor):
            raise TypeError(f"the evaluator's training_step must return a loss tensor (or {{'loss': ...}}), got {type(output)}")
        return loss

    def training_step(self, batch, batch_idx):
        a, b, dist = self.sample_pair()
        self.activate(a)
        loss_a = self._loss(self.training_module.training_step(batch, batch_idx))
        self.activate(b)
        loss_b = self._loss(self.training_module.training_step(batch, batch_idx))
        loss = loss_a + loss_b
        sa, sb = float(self.teacher(a)), float(self.teacher(b))
        rank = torch.zeros((), device=loss.device)
        if math.isfinite(sa) and math.isfinite(sb) and sa != sb:
            good, bad = (loss_a, loss_b) if sa > sb else (loss_b, loss_a)
            rank = pair_rank_loss(good, bad, self.rank_loss, self.rank_margin)
            loss = loss + rank_weight_at(self._progress(), self.rank_weight, self.rank_schedule) * rank
        self.log('rank_loss', rank.detach())
        self.log('pair_distance', float(dist))
        return loss


class RDNAS(RandomOneShot):
    """Ranking-distillation one-shot NAS (RD-NAS) on NNI's one-shot machinery.

    Parameters
    ----------
    teacher
        Zero-cost proxy name for NB201 samples (``flops`` (default, free), ``params``, ``synflow``, ...;
        see :func:`nb201_proxy_teacher`) or ``callable(sample) -> float`` (higher = predicted better).
    teacher_options
        Keyword arguments of :func:`nb201_proxy_teacher` (network size the proxy is computed on).
    rank_weight, rank_schedule
        Maximum ranking-loss weight and its schedule over training (``sin``: ``w sin(0.8 pi t)``).
    rank_loss, rank_margin
        ``margin`` (default: ``relu(loss_good - loss_bad + rank_margin)``, both subnets move; it ranks better
        on CIFAR-10 against NB201) or ``hinge`` (the paper's: ``loss_bad`` detached); see
        :func:`~nni_rank.supernet.train.pair_rank_loss`.
    margin
        Minimum group distance of a sampled pair (6.7 for NB201 cells).
    exclude
        Choice values never sampled during training (``none``: the 4-op supernet of the paper).
    seed
        Seed of the pair sampler.
    **kwargs
        Passed to :class:`~nni.nas.strategy.RandomOneShot` (``filter``, ``mutation_hooks``).
    """

    def __init__(self, teacher: str | Callable[[Sample], float] = 'flops', *, teacher_options: dict | None = None,
                 rank_weight: float = 2.0, rank_schedule: str = 'sin', rank_loss: str = 'margin',
                 rank_margin: float = 0.1, margin: float = 6.7, exclude: Sequence[Any] = ('none',), seed: int = 0,
                 **kwargs):
        super().__init__(**kwargs)
        if rank_schedule not in SCHEDULES:
            raise ValueError(f'rank_schedule must be one of {SCHEDULES}, got {rank_schedule!r}')
        if rank_loss not in RANK_LOSSES:
            raise ValueError(f'rank_loss must be one of {RANK_LOSSES}, got {rank_loss!r}')
        if rank_weight < 0 or margin < 0:
            raise ValueError(f'rank_weight and margin must be >= 0, got {rank_weight}, {margin}')
        if isinstance(teacher, str):
            teacher = nb201_proxy_teacher(teacher, **(teacher_options or {}))
        elif not callable(teacher):
            raise TypeError(f'teacher must be a proxy name or a callable(sample) -> float, got {type(teacher).__name__}')
        self.teacher = teacher
        self.rank_weight, self.rank_schedule, self.margin = rank_weight, rank_schedule, margin
        self.rank_loss, self.rank_margin = rank_loss, rank_margin
        self.exclude, self.seed = tuple(exclude), seed

    def configure_oneshot_module(self, training_module) -> RankDistillLightningModule:
        return RankDistillLightningModule(training_module, self.teacher, rank_weight=self.rank_weight,
                                          rank_schedule=self.rank_schedule, rank_loss=self.rank_loss,
                                          rank_margin=self.rank_margin, margin=self.margin,
                                          exclude=self.exclude, seed=self.seed, filter=self.filter)
