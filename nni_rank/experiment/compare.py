"""Head-to-head comparison of search strategies on one benchmark table with the same seeds.

Every strategy runs ``budget`` queries per seed through :func:`run_benchmark_search` (every lookup is
a query; zero-cost proxy scores are not). The outcome is summarised as

* the best accuracy found after 25/50/100/200 queries (median and inter-quartile range over seeds),
* the queries needed to reach the optimum and the top-0.1% threshold (median/worst/reached, a miss
  counting as ``budget + 1``: :func:`queries_summary`),

and written as a per-run CSV, the best-so-far curves as CSV, a markdown table, JSON and a PNG plot
(median best-so-far accuracy against queries, IQR band per strategy).
"""
from __future__ import annotations

import contextlib
import csv
import inspect
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..files import atomic_path, write_json, write_text
from .benchmark_search import SearchResult, run_benchmark_search

__all__ = ['CHECKPOINTS', 'Comparison', 'RunStore', 'StrategyRuns', 'queries_summary', 'run_comparison', 'write_report']

#: Query counts at which the best accuracy so far is reported (those <= budget are used).
CHECKPOINTS = (25, 50, 100, 200)


def queries_summary(values: Sequence[int | None], budget: int) -> dict[str, Any]:
    """Median/worst/reached of queries-to-threshold over runs; a miss (``None``) counts as ``budget + 1``."""
    if budget < 1:
        raise ValueError(f'budget must be positive, got {budget}')
    if not len(values):
        raise ValueError('queries_summary needs at least one run')
    capped = np.array([budget + 1 if v is None else int(v) for v in values])
    return {'median': float(np.median(capped)), 'worst': int(capped.max()),
            'reached': int(sum(v is not None for v in values)), 'runs': len(values)}


@dataclass
class StrategyRuns:
    """All seeds of one strategy."""

    name: str
    results: list[SearchResult] = field(default_factory=list)

    def curves(self, budget: int) -> np.ndarray:
        """``(seeds, budget)`` best-so-far accuracy; a run that stopped early keeps its last best."""
        out = np.full((len(self.results), budget), np.nan)
        for i, res in enumerate(self.results):
            curve = res.best_so_far()[:budget]
            out[i, :len(curve)] = curve
            if 0 < len(curve) < budget:
                out[i, len(curve):] = curve[-1]
        return out

    def best_after(self, queries: int) -> np.ndarray:
        """Best accuracy after ``queries`` queries, one value per seed (NaN: nothing succeeded yet)."""
        vals = []
        for res in self.results:
            curve = res.best_so_far()[:queries]
            vals.append(float(curve[-1]) if len(curve) else np.nan)
        return np.array(vals)


@dataclass
class Comparison:
    """Outcome of :func:`run_comparison`."""

    benchmark: str
    dataset: str
    metric: str
    budget: int
    seeds: list[int]
    optimum: float
    top_threshold: float
    runs: dict[str, StrategyRuns] = field(default_factory=dict)

    @property
    def checkpoints(self) -> list[int]:
        return [c for c in CHECKPOINTS if c <= self.budget]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per strategy: best-after quartiles, queries-to-optimum / to-top-0.1% summaries, seconds per run."""
        out = {}
        for name, sr in self.runs.items():
            row: dict[str, Any] = {}
            for c in self.checkpoints:
                vals = sr.best_after(c)
                q25, q50, q75 = np.nanpercentile(vals, [25, 50, 75]) if np.isfinite(vals).any() else (np.nan,) * 3
                row[f'best@{c}'] = {'median': float(q50), 'q25': float(q25), 'q75': float(q75)}
            row['to_optimum'] = queries_summary([r.queries_to_reach(self.optimum) for r in sr.results], self.budget)
            row['to_top0.1%'] = queries_summary([r.queries_to_reach(self.top_threshold) for r in sr.results],
                                                self.budget)
            row['seconds_per_run'] = float(np.mean([r.seconds for r in sr.results]))
            out[name] = row
        return out

    def markdown(self) -> str:
        """The summary as a markdown table (accuracy: median [q25, q75]; queries: median / worst, reached)."""
        summary = self.summary()
        n = len(self.seeds)
        head = ['strategy'] + [f'best@{c}' for c in self.checkpoints] + \
               ['queries to optimum', 'queries to top-0.1%', 's/run']
        lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
        for name, row in summary.items():
            cells = [name]
            for c in self.checkpoints:
                b = row[f'best@{c}']
                cells.append(f'{b["median"]:.2f} [{b["q25"]:.2f}, {b["q75"]:.2f}]')
            for key in ('to_optimum', 'to_top0.1%'):
                q = row[key]
                cells.append(f'{q["median"]:g} / {q["worst"]} ({q["reached"]}/{n})')
            cells.append(f'{row["seconds_per_run"]:.2f}')
            lines.append('| ' + ' | '.join(cells) + ' |')
        note = (f'{self.dataset} {self.metric} on {Path(self.benchmark).name}: optimum {self.optimum:.4f}, top-0.1% '
                f'threshold {self.top_threshold:.4f}; {n} seeds x {self.budget} queries. best@k: median '
                f'[25th, 75th percentile] of the best accuracy after k queries; queries: median / worst (runs that '
                f'reached it); a miss counts as {self.budget + 1}.')
        return note + '\n\n' + '\n'.join(lines) + '\n'


def _accepts(factory: Callable, key: str) -> bool:
    params = inspect.signature(factory).parameters
    return key in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def strategy_options(name: str, options: dict[str, dict[str, Any]], cache_dir: str | None) -> dict[str, Any]:
    """Options for strategy ``name``: ``options[name]``, plus ``cache_dir`` for the zero-cost ones and alpha-nas."""
    from ..strategies import STRATEGIES
    opts = dict(options.get(name, {}))
    if cache_dir is not None and (name.startswith('zc-') or name == 'alpha-nas') and 'cache_dir' not in opts:
        opts['cache_dir'] = cache_dir
    if cache_dir is not None and name == 'nar' and opts.get('proxies') and 'proxy_cache' not in opts:
        opts['proxy_cache'] = cache_dir
    unknown = [k for k in opts if not _accepts(STRATEGIES[name], k)]
    if unknown:
        raise ValueError(f'strategy {name!r} takes no option {", ".join(map(repr, unknown))}')
    return opts


def run_comparison(benchmark, strategies: Sequence[str], seeds: Sequence[int], budget: int, *,
                   dataset: str = 'cifar10', metric: str | None = None, space: Any = 'nb201',
                   options: dict[str, dict[str, Any]] | None = None, cache_dir: str | None = None,
                   runs_dir: str | Path | None = None, restrict_to_table: bool = False,
                   log: Callable[[str], None] | None = print) -> Comparison:
    """Run every strategy for every seed (seed ``s`` seeds the strategy and the run) on the same table.

    ``space`` is ``'nb201'``, ``'nb101'``, ``'PACKAGE.MODULE:CLASS'`` or a model space (its table is keyed by
    its labels, and zero-cost strategies build its networks).
    ``options`` maps a strategy name to its keyword options; ``cache_dir`` is the zero-cost proxy
    cache handed to the zero-cost strategies. With ``runs_dir`` every finished run is written there at
    once (``STRATEGY-seedN.json``), and a run already there with the same settings is read back instead
    of run again: an interrupted comparison resumes where it stopped. ``restrict_to_table``: every strategy
    searches the table's architectures only (:mod:`nni_rank.spaces.restricted`), for a table covering part of
    a user's space.
    """
    from ..evaluators import BenchmarkEvaluator
    from ..runtime import progress
    from ..strategies import STRATEGIES, make_strategy
    options = options or {}
    strategies = list(strategies)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f'unknown strategies {", ".join(unknown)}; available: {", ".join(sorted(STRATEGIES))}')
    if len(set(strategies)) != len(strategies) or not strategies:
        raise ValueError(f'strategies must be a non-empty list without repeats, got {strategies}')
    stray = [k for k in options if k not in strategies]
    if stray:
        raise ValueError(f'options given for strategies not compared: {", ".join(stray)}')
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError('give at least one seed')
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds must not repeat, got {seeds}')
    if budget < 1:
        raise ValueError(f'budget must be a positive number of queries, got {budget}')
    per_strategy = {name: strategy_options(name, options, cache_dir) for name in strategies}  # fail early

    from ..spaces.adapter import adapter_for
    adapter = adapter_for(space)
    evaluator = BenchmarkEvaluator(benchmark, dataset=dataset, metric=metric, space=adapter)
    table = evaluator.table
    comp = Comparison(benchmark=str(getattr(table, 'source', None) or benchmark), dataset=dataset,
                      metric=evaluator.metric, budget=budget, seeds=seeds,
                      optimum=table.top(dataset, 1, evaluator.metric)[0][1],
                      top_threshold=table.threshold(dataset, 0.001, evaluator.metric))
    store = RunStore(runs_dir) if runs_dir is not None else None
    # a user space: its networks, for the zero-cost strategies (benchmark spaces build their own)
    networks = {'model_space': adapter.network_space} if adapter.network_space is not None else {}
    bar = progress(total=len(strategies) * len(seeds), desc='compare', unit='run')
    try:
        for name in strategies:
            sr = comp.runs[name] = StrategyRuns(name)
            settings = {'benchmark': comp.benchmark, 'dataset': dataset, 'metric': comp.metric,
                        'space': space if isinstance(space, str) else f'{adapter.name}:{adapter.fingerprint()}',
                        'budget': budget, 'strategy': name, 'options': per_strategy[name]}
            if restrict_to_table:
                settings['restrict_to_table'] = True
            start, reused = time.perf_counter(), 0
            for seed in seeds:
                bar.set_postfix_str(f'{name} seed {seed}')
                result = store.load(name, seed, settings) if store else None
                if result is None:
                    with _nni_logs_quiet():  # NNI's tuners log their seed at construction
                        strategy = make_strategy(name, seed=seed, **per_strategy[name])
                    result = run_benchmark_search(strategy, evaluator, budget, seed=seed, name=name,
                                                  restrict_to_table=restrict_to_table, **networks)
                    if store:
                        store.save(result, settings)
                else:
                    reused += 1
                sr.results.append(result)
                bar.update(1)
            if log:
                best = np.nanmedian(sr.best_after(budget))
                note = f', {reused} read back from {store.folder}' if reused else ''
                log(f'{name:10s} {len(seeds)} seeds x {budget} queries: median best {best:.2f} '
                    f'({time.perf_counter() - start:.1f} s{note})')
    finally:
        bar.close()
    return comp


@contextlib.contextmanager
def _nni_logs_quiet():
    logger = logging.getLogger('nni')
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class RunStore:
    """Finished runs of a comparison, one JSON file each, written atomically as they finish."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, name: str, seed: int) -> Path:
        return self.folder / f'{name}-seed{seed}.json'

    @staticmethod
    def _fingerprint(settings: dict[str, Any]) -> str:
        return json.dumps(settings, sort_keys=True, default=repr)

    def load(self, name: str, seed: int, settings: dict[str, Any]) -> SearchResult | None:
        """The stored run of ``name``/``seed`` if it was made with ``settings`` (else None: run it again)."""
        path = self.path(name, seed)
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            if self._fingerprint(data.get('settings')) != self._fingerprint(settings):
                return None
            return SearchResult.from_json(data['result'])
        except (ValueError, KeyError, TypeError):  # torn or foreign file: run again, it gets replaced
            return None

    def save(self, result: SearchResult, settings: dict[str, Any]) -> Path:
        return write_json(self.path(result.strategy, result.seed),
                          {'settings': json.loads(self._fingerprint(settings)), 'result': result.to_json()})


def _write_runs_csv(comp: Comparison, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['strategy', 'seed', 'queries', *[f'best@{c}' for c in comp.checkpoints], 'best_accuracy',
                    'best_arch', 'queries_to_optimum', 'queries_to_top0.1%', 'seconds'])
        for name, sr in comp.runs.items():
            for res in sr.results:
                curve = res.best_so_far()
                best_arch, best_acc = res.best
                at = [(f'{curve[c - 1]:.4f}' if len(curve) >= c and np.isfinite(curve[c - 1]) else '')
                      for c in comp.checkpoints]
                reach = [res.queries_to_reach(comp.optimum), res.queries_to_reach(comp.top_threshold)]
                w.writerow([name, res.seed, len(res.history), *at, '' if best_acc is None else best_acc,
                            best_arch or '', *('' if r is None else r for r in reach), f'{res.seconds:.3f}'])


def _write_curves_csv(comp: Comparison, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['strategy', 'seed', 'query', 'best_so_far'])
        for name, sr in comp.runs.items():
            for res, curve in zip(sr.results, sr.curves(comp.budget)):
                w.writerows([name, res.seed, q, '' if np.isnan(v) else f'{v:.4f}'] for q, v in enumerate(curve, 1))


def plot(comp: Comparison, path: Path) -> Path:
    """Median best-so-far accuracy against queries, with the inter-quartile band per strategy."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=120)
    x = np.arange(1, comp.budget + 1)
    for name, sr in comp.runs.items():
        curves = sr.curves(comp.budget)
        ok = np.isfinite(curves).any(axis=0)
        q25, q50, q75 = np.full((3, comp.budget), np.nan)
        if ok.any():
            q25[ok], q50[ok], q75[ok] = np.nanpercentile(curves[:, ok], [25, 50, 75], axis=0)
        (line,) = ax.plot(x, q50, label=name, lw=1.6)
        ax.fill_between(x, q25, q75, color=line.get_color(), alpha=0.18, lw=0)
    ax.axhline(comp.optimum, color='k', ls='--', lw=0.8, label=f'optimum {comp.optimum:.2f}')
    ax.axhline(comp.top_threshold, color='grey', ls=':', lw=0.8, label='top-0.1%')
    ax.set_xscale('log')
    ax.set_xlabel('queries (benchmark lookups)')
    ax.set_ylabel(f'best {comp.metric} so far ({comp.dataset})')
    finite = np.concatenate([sr.best_after(min(10, comp.budget)) for sr in comp.runs.values()])
    finite = finite[np.isfinite(finite)]
    if finite.size:
        ax.set_ylim(max(np.percentile(finite, 10) - 0.5, 0), comp.optimum + 0.3)
    ax.set_title(f'{len(comp.seeds)} seeds: median and IQR band')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png')
    plt.close(fig)
    return path


def write_report(comp: Comparison, out_dir) -> dict[str, Path]:
    """Write ``runs.csv``, ``curves.csv``, ``summary.md``, ``summary.json`` and ``best_so_far.png`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {'runs': out / 'runs.csv', 'curves': out / 'curves.csv', 'markdown': out / 'summary.md',
             'json': out / 'summary.json', 'plot': out / 'best_so_far.png'}
    _write_runs_csv(comp, paths['runs'])
    _write_curves_csv(comp, paths['curves'])
    write_text(paths['markdown'], comp.markdown())
    meta = {'benchmark': comp.benchmark, 'dataset': comp.dataset, 'metric': comp.metric, 'budget': comp.budget,
            'seeds': comp.seeds, 'optimum': comp.optimum, 'top0.1%_threshold': comp.top_threshold,
            'strategies': comp.summary()}
    write_json(paths['json'], meta)
    plot(comp, paths['plot'])
    return paths
