"""Run any NNI strategy against a benchmark table with NNI's sequential engine, recording every query."""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from nni.nas.benchmark import BenchmarkModelSpace
from nni.nas.execution import SequentialExecutionEngine
from nni.nas.execution.event import ModelEventType, TrainingEndEvent
from nni.nas.strategy import Strategy

from ..evaluators import SampleEvaluator


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


def run_benchmark_search(strategy: Strategy, evaluator: SampleEvaluator, budget: int, *,
                         seed: int | None = None, name: str | None = None, model_space=None,
                         quiet: bool = True, progress: bool = False) -> SearchResult:
    """Run ``strategy`` for ``budget`` queries of ``evaluator`` (NNI's sequential engine) and return them.

    ``model_space`` may be an NNI ``ModelSpace`` matching the benchmark (e.g. ``NasBench201()``),
    else the evaluator's own space is used. Every model the strategy submits is one query.
    """
    if budget < 1:
        raise ValueError(f'budget must be a positive number of queries, got {budget}')
    seed_everything(seed)
    nni_logger = logging.getLogger('nni')
    level = nni_logger.level
    if quiet:
        nni_logger.setLevel(logging.WARNING)
    space = BenchmarkModelSpace(model_space, evaluator) if model_space is not None else BenchmarkModelSpace(evaluator)
    engine = SequentialExecutionEngine(max_model_count=budget, continue_on_failure=True)
    result = SearchResult(strategy=name or type(strategy).__name__, dataset=getattr(evaluator, 'dataset', ''), seed=seed,
                          budget=budget)

    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=budget, desc=result.strategy, unit='arch')

    def on_end(event: TrainingEndEvent) -> None:
        arch = evaluator.arch_of(event.model.sample)
        metric = event.model.metric
        metric = None if metric is None or metric != metric else float(metric)  # failed or NaN
        result.history.append((str(arch), metric))
        if bar is not None:
            bar.update(1)
            if metric is not None:
                bar.set_postfix(best=f'{result.best[1]:.2f}')

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
