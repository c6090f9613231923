"""Run any NNI strategy with NNI's sequential engine on any space and evaluator, recording every query."""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nni.nas.benchmark import BenchmarkEvaluator as NniBenchmarkEvaluator
from nni.nas.benchmark import BenchmarkModelSpace
from nni.nas.evaluator import Evaluator
from nni.nas.execution import SequentialExecutionEngine
from nni.nas.space import ExecutableModelSpace, RawFormatModelSpace
from nni.nas.execution.event import ModelEventType, TrainingEndEvent
from nni.nas.strategy import Strategy

from ..spaces.adapter import adapter_for


@dataclass
class SearchResult:
    """Outcome of one search: every query in order, and the best architecture found."""

    strategy: str
    dataset: str
    seed: int | None
    budget: int
    history: list[tuple[str, float | None]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def best(self) -> tuple[str | None, float | None]:
        done = [(a, v) for a, v in self.history if v is not None]
        return max(done, key=lambda t: t[1]) if done else (None, None)

    def best_so_far(self) -> np.ndarray:
        """Best accuracy after each query (NaN before the first success)."""
        vals = np.array([np.nan if v is None else v for _, v in self.history], dtype=float)
        return np.fmax.accumulate(vals) if len(vals) else vals

    def queries_to_reach(self, threshold: float) -> int | None:
        """1-based number of queries until an accuracy >= threshold, None if never."""
        for i, (_, v) in enumerate(self.history, start=1):
            if v is not None and v >= threshold:
                return i
        return None

    def to_json(self) -> dict[str, Any]:
        best_arch, best_acc = self.best
        return {'best_arch': best_arch, 'best_accuracy': best_acc,
                'history': [[a, v] for a, v in self.history],
                'strategy': self.strategy, 'dataset': self.dataset, 'seed': self.seed, 'budget': self.budget,
                'queries': len(self.history), 'seconds': round(self.seconds, 3)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> 'SearchResult':
        """The inverse of :meth:`to_json` (a result written by ``nni-rank search --json`` or ``compare``)."""
        return cls(strategy=data['strategy'], dataset=data['dataset'], seed=data['seed'], budget=int(data['budget']),
                   history=[(str(a), None if v is None else float(v)) for a, v in data['history']],
                   seconds=float(data.get('seconds', 0.0)))


def seed_everything(seed: int | None) -> None:
    """Seed python, numpy and torch (strategies get their own seed too)."""
    if seed is None:
        return
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def searched_space(evaluator: Evaluator, model_space=None, restrict_to_table: bool = False,
                   seed: int | None = None) -> ExecutableModelSpace:
    """The executable space a strategy searches: a ``BenchmarkModelSpace`` for table lookups (NNI's
    ``BenchmarkEvaluator`` subclasses: sampling only, nothing built), else the user's space with ``evaluator``
    (every query builds its model with ``freeze``). An ``ExecutableModelSpace`` is used as it is.
    ``restrict_to_table``: only the rows of the evaluator's table are searched (see
    :mod:`nni_rank.spaces.restricted`; ties of the projection drawn with ``seed``)."""
    if restrict_to_table:
        table, adapter = getattr(evaluator, 'table', None), getattr(evaluator, 'adapter', None)
        if table is None or adapter is None or isinstance(model_space, ExecutableModelSpace):
            raise ValueError('restrict_to_table needs the project\'s BenchmarkEvaluator of a table of the space '
                             '(and the ModelSpace itself, not an executable space)')
        from ..spaces.restricted import restrict_to_table as restrict
        return restrict(model_space, evaluator, table, adapter_for(model_space) if model_space is not None else adapter,
                        seed=seed)
    if isinstance(model_space, ExecutableModelSpace):
        return model_space
    if isinstance(evaluator, NniBenchmarkEvaluator):
        return BenchmarkModelSpace(model_space, evaluator) if model_space is not None else BenchmarkModelSpace(evaluator)
    if model_space is None:
        raise ValueError(f'{type(evaluator).__name__} evaluates models, not table rows: give model_space=, the space '
                         'whose models it evaluates')
    return RawFormatModelSpace.from_model(model_space, evaluator)


def run_benchmark_search(strategy: Strategy, evaluator: Evaluator, budget: int, *,
                         seed: int | None = None, name: str | None = None, model_space=None,
                         quiet: bool = True, progress: bool = False, restrict_to_table: bool = False) -> SearchResult:
    """Run ``strategy`` for ``budget`` queries of ``evaluator`` (NNI's sequential engine) and return them.

    ``evaluator`` is a table lookup (the project's :class:`~nni_rank.evaluators.BenchmarkEvaluator`, NNI's
    benchmark evaluators), with ``model_space`` optional (e.g. ``NasBench201()``; else the evaluator's own
    space), or any other NNI evaluator (``FunctionalEvaluator``, the project's training and zero-cost
    evaluators) with ``model_space`` required. Every model the strategy submits is one query, named in the
    history by the space's adapter. ``restrict_to_table``: search only the architectures of the evaluator's
    table (a user's table covering part of their space); every query is then a distinct row.
    """
    if budget < 1:
        raise ValueError(f'budget must be a positive number of queries, got {budget}')
    seed_everything(seed)
    nni_logger = logging.getLogger('nni')
    level = nni_logger.level
    if quiet:
        nni_logger.setLevel(logging.WARNING)
    try:
        space = searched_space(evaluator, model_space, restrict_to_table, seed)
        describe = getattr(evaluator, 'describe', None) or adapter_for(space).describe
    except BaseException:
        nni_logger.setLevel(level)
        raise
    engine = SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True)
    result = SearchResult(strategy=name or type(strategy).__name__, dataset=getattr(evaluator, 'dataset', ''), seed=seed,
                          budget=budget)

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=budget, desc=result.strategy, unit='arch')

    def on_end(event: TrainingEndEvent) -> None:
        metric = event.model.metric
        metric = None if metric is None or metric != metric else float(metric)  # failed or NaN
        result.history.append((describe(event.model.sample), metric))
        if claim is not None:
            claim(event.model.sample)
        if bar is not None:
            bar.update(1)
            if metric is not None:
                bar.set_postfix(best=f'{result.best[1]:.2f}')

    claim = getattr(space, 'claim', None)
    engine.register_model_event_callback(ModelEventType.TrainingEnd, on_end)
    start = time.perf_counter()
    try:
        strategy(space, engine)
    finally:
        nni_logger.setLevel(level)
        if bar is not None:
            bar.close()
        result.seconds = time.perf_counter() - start
    return result
