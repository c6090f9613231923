"""The supernet ranking protocol: fixed benchmark subnets, train one supernet, rank them, compare.

* :func:`benchmark_subnets`: a seeded sample of benchmark cells whose ops are all trainable
  (the supernet never trains ``none``, so cells with ``none`` are left out rather than ranked through
  an untrained zero path); the same list is ranked for every method and seed.
* :func:`train_and_rank`: train a supernet from a :class:`SupernetConfig`, then score every subnet
  with inherited weights (BatchNorm recalibrated on training batches, accuracy and loss on the
  held-out split), and score the teacher proxy on the same subnets.
* :func:`ranking_quality`: Kendall / Spearman of the supernet (by accuracy and by loss) and of the
  teacher against the benchmark accuracies.
"""
from __future__ import annotations

import random
import time
from typing import Callable, Sequence

from ..spaces.nb201 import NB201Arch
from .evaluate import calibration_batches, held_out_batches, rank_archs, rank_correlation
from .sampler import TRAIN_OPS
from .train import SupernetConfig, SupernetTrainer

__all__ = ['benchmark_subnets', 'train_and_rank', 'ranking_quality']


def benchmark_subnets(table, count: int, dataset: str = 'cifar10', ops: Sequence[str] = TRAIN_OPS,
                      seed: int = 0) -> tuple[list[str], list[float]]:
    """``count`` seeded benchmark cells using only ``ops`` and their ``dataset`` accuracies."""
    allowed = set(ops)
    pool = sorted(a.to_str() for a in table.archs() if set(NB201Arch.parse(a).ops) <= allowed)
    if count < 2 or count > len(pool):
        raise ValueError(f'need 2 <= count <= {len(pool)} cells with ops {sorted(allowed)}, got {count}')
    archs = random.Random(seed).sample(pool, count)
    return archs, [float(table.accuracy(a, dataset)) for a in archs]


def train_and_rank(config: SupernetConfig, archs: Sequence[str], calib_batches: int = 2, calib_batch_size: int = 64,
                   log: Callable[[str], None] | None = None, save: str | None = None) -> dict:
    """Train a supernet (checkpoint written to ``save``) and rank ``archs``; scores, timings, teacher scores."""
    trainer = SupernetTrainer(config, log=log)
    start = time.perf_counter()
    trainer.train(save=save)
    train_s = time.perf_counter() - start
    calib = calibration_batches(trainer.train_set, calib_batches, calib_batch_size, seed=config.seed)
    start = time.perf_counter()
    scores = rank_archs(trainer.net, archs, calib, held_out_batches(trainer.test_set), config.device)
    eval_s = time.perf_counter() - start
    out = {'accuracy': [s['accuracy'] for s in scores], 'loss': [s['loss'] for s in scores],
           'train_seconds': train_s, 'eval_seconds': eval_s, 'steps': trainer.step,
           'paths_trained': trainer.paths_trained, 'final_train_ce': trainer.history[-1]['ce']}
    if trainer.teacher is not None:
        start = time.perf_counter()
        out['teacher'] = [trainer.teacher.score(a) for a in archs]
        out['teacher_seconds'] = time.perf_counter() - start
    return out


def ranking_quality(result: dict, truth: Sequence[float]) -> dict:
    """Rank correlations of a :func:`train_and_rank` result (and its teacher) with ``truth``."""
    quality = {'by_accuracy': rank_correlation(result['accuracy'], truth),
               'by_loss': rank_correlation([-v for v in result['loss']], truth)}
    if 'teacher' in result:
        quality['teacher'] = rank_correlation(result['teacher'], truth)
    return quality
