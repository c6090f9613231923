"""An NNI experiment's results after the fact: read NNI's own records, write tables, plots and drawings.

NNI's manager keeps every experiment in a SQLite database, ``<experiment folder>/db/nni.sqlite``
(tables ``TrialJobEvent``, ``MetricData``, ``ExperimentProfile``), which stays after ``nnictl stop``.
:func:`read_experiment` replays it the way the manager does for the web UI's trial table (status from
the latest event, start and end times, the trial's parameters, its one final metric), so the result
matches what the web UI showed, for ``nnictl`` experiments and ``NasExperiment``\\ s alike.
"""
from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ['ExperimentRecord', 'TrialRecord', 'locate_experiment', 'read_experiment', 'write_experiment_report']

_END_EVENTS = {'SUCCEEDED', 'FAILED', 'USER_CANCELED', 'SYS_CANCELED', 'EARLY_STOPPED'}


@dataclass
class TrialRecord:
    """One trial as the web UI's table shows it."""

    trial_id: str
    sequence: int | None
    status: str
    parameters: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] | None = None  # the final result as reported ({'default': ...} for a bare number)
    intermediates: list[float] = field(default_factory=list)
    start_ms: int | None = None
    end_ms: int | None = None

    @property
    def default(self) -> float | None:
        value = None if self.final is None else self.final.get('default')
        return float(value) if isinstance(value, (int, float)) else None

    @property
    def duration_s(self) -> float | None:
        if self.start_ms is None or self.end_ms is None:
            return None
        return (self.end_ms - self.start_ms) / 1000


@dataclass
class ExperimentRecord:
    """An experiment's id, its config as NNI stored it, and its trials in submission order."""

    experiment_id: str
    folder: Path
    config: dict[str, Any]
    trials: list[TrialRecord]

    @property
    def maximize(self) -> bool:
        """Whether larger ``default`` is better (the tuner's ``optimize_mode``; NAS experiments maximise)."""
        for key in ('tuner', 'advisor'):
            args = (self.config.get(key) or {}).get('classArgs') or {}
            if 'optimize_mode' in args:
                return str(args['optimize_mode']).lower() != 'minimize'
        return True

    def best(self, k: int = 5) -> list[TrialRecord]:
        done = [t for t in self.trials if t.default is not None]
        return sorted(done, key=lambda t: t.default, reverse=self.maximize)[:k]


def _experiment_roots() -> list[Path]:
    """Folders NNI puts experiments in: its registry's logDirs, then ``~/nni-experiments``."""
    roots = []
    registry = Path.home() / 'nni-experiments' / '.experiment'
    if registry.is_file():
        try:
            for entry in json.loads(registry.read_text()).values():
                if entry.get('logDir'):
                    roots.append(Path(entry['logDir']))
        except (ValueError, AttributeError):
            pass
    return roots + [Path.home() / 'nni-experiments']


def locate_experiment(ref: str | os.PathLike) -> Path:
    """The folder of experiment ``ref``: an experiment folder, its ``db`` folder or ``nni.sqlite``, or an id."""
    path = Path(ref)
    for candidate in (path, path.parent, path.parent.parent):
        if (candidate / 'db' / 'nni.sqlite').is_file():
            return candidate
    if path.name and os.sep not in str(ref):
        for root in _experiment_roots():
            if (root / str(ref) / 'db' / 'nni.sqlite').is_file():
                return root / str(ref)
    raise FileNotFoundError(f'no NNI experiment at {ref}: give an experiment id (looked in '
                            f'{", ".join(str(r) for r in _experiment_roots())}) or a folder holding db/nni.sqlite')


def _json(text: str | None) -> Any:
    """NNI stores metrics JSON-encoded, sometimes twice; decode until it is not a string."""
    value: Any = text
    for _ in range(3):
        if not isinstance(value, str):
            break
        try:
            value = json.loads(value)
        except ValueError:
            break
    return value


def _as_result(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, (int, float)):
        return {'default': value}
    return None


def _parameters(data: dict) -> dict[str, Any]:
    """A trial's parameters; for a NAS trial (a serialized model) its architecture sample when found."""
    params = data.get('parameters', data)
    sample = _find_sample(params)
    return sample if sample is not None else params if isinstance(params, dict) else {'value': params}


def _find_sample(obj: Any, depth: int = 0) -> dict | None:
    if depth > 6 or not isinstance(obj, (dict, list)):
        return None
    if isinstance(obj, dict):
        if isinstance(obj.get('sample'), dict):
            return obj['sample']
        items = obj.values()
    else:
        items = obj
    for item in items:
        found = _find_sample(item, depth + 1)
        if found is not None:
            return found
    return None


def read_experiment(ref: str | os.PathLike) -> ExperimentRecord:
    """Read an experiment (running or stopped) from NNI's database; see the module docstring."""
    folder = locate_experiment(ref)
    db = folder / 'db' / 'nni.sqlite'
    try:
        con = sqlite3.connect(f'file:{db}?mode=ro', uri=True, timeout=10)
        try:
            profile = con.execute('select params, id from ExperimentProfile order by revision desc limit 1').fetchone()
            events = con.execute('select timestamp, trialJobId, event, data, sequenceId from TrialJobEvent '
                                 'order by rowid').fetchall()
            metrics = con.execute('select trialJobId, type, sequence, data from MetricData order by rowid').fetchall()
        finally:
            con.close()
    except sqlite3.Error as err:
        raise RuntimeError(f'cannot read NNI database {db}: {err}') from None
    config = _json(profile[0]) if profile else {}
    trials: dict[str, TrialRecord] = {}
    for timestamp, trial_id, event, data, sequence in events:
        if not trial_id:
            continue
        t = trials.setdefault(trial_id, TrialRecord(trial_id, None, 'UNKNOWN'))
        ts = None if timestamp is None else int(timestamp)
        if event == 'RUNNING':  # as NNI's manager replays events for the web UI
            t.start_ms = ts
        elif (event == 'WAITING' or event in _END_EVENTS) and t.start_ms is None:
            t.start_ms = ts
        if event in _END_EVENTS:
            t.end_ms = ts
        if event == 'USER_TO_CANCEL':
            t.status = 'USER_CANCELED'
        elif event == 'ADD_CUSTOMIZED':
            t.status = 'WAITING'
        elif event != 'ADD_HYPERPARAMETER':
            t.status = event
        parsed = _json(data) if data and data.strip() else None
        if isinstance(parsed, dict) and not t.parameters:
            t.parameters = _parameters(parsed)
        if sequence is not None and t.sequence is None:
            t.sequence = int(sequence)
    for trial_id, kind, _, data in metrics:
        t = trials.get(trial_id)
        if t is None:
            continue
        value = _json(data)
        if kind == 'FINAL' and t.final is None:
            t.final = _as_result(value)
        elif kind == 'PERIODICAL':
            result = _as_result(value)
            if result is not None and isinstance(result.get('default'), (int, float)):
                t.intermediates.append(float(result['default']))
    for t in trials.values():  # the web UI shows the final metric of succeeded trials only
        if t.status != 'SUCCEEDED':
            t.final = None
    order = sorted(trials.values(), key=lambda t: (t.sequence is None, t.sequence or 0, t.start_ms or 0))
    return ExperimentRecord(experiment_id=profile[1] if profile else folder.name, folder=folder,
                            config=config if isinstance(config, dict) else {}, trials=order)


def write_experiment_report(record: ExperimentRecord, out_dir: str | os.PathLike, top_k: int = 5) -> dict[str, Path]:
    """Write ``trials.csv``, ``trials.json``, ``best.json``, ``best_so_far.png`` and, when the best trial is a
    NAS-Bench-201 cell, ``best_cell.png`` into ``out_dir``."""
    import csv
    import io

    from ..files import write_json, write_text
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    param_keys = list(dict.fromkeys(k for t in record.trials for k in t.parameters))
    metric_keys = list(dict.fromkeys(k for t in record.trials for k in (t.final or {}) if k != 'default'))
    text = io.StringIO()
    w = csv.writer(text, lineterminator='\n')
    w.writerow(['trial_id', 'sequence', 'status', 'duration_s', 'default', *param_keys, *metric_keys, 'intermediates'])
    for t in record.trials:
        final = t.final or {}
        w.writerow([t.trial_id, '' if t.sequence is None else t.sequence, t.status,
                    '' if t.duration_s is None else f'{t.duration_s:.3f}', '' if t.default is None else repr(t.default),
                    *(_cell(t.parameters.get(k)) for k in param_keys), *(_cell(final.get(k)) for k in metric_keys),
                    len(t.intermediates)])
    paths['csv'] = write_text(out / 'trials.csv', text.getvalue())
    trials = [{'trial_id': t.trial_id, 'sequence': t.sequence, 'status': t.status, 'duration_s': t.duration_s,
               'parameters': t.parameters, 'final': t.final, 'intermediates': t.intermediates} for t in record.trials]
    paths['json'] = write_json(out / 'trials.json', {'experiment_id': record.experiment_id, 'folder': str(record.folder),
                                                     'maximize': record.maximize, 'trials': trials})
    best = record.best(top_k)
    paths['best'] = write_json(out / 'best.json', [{'trial_id': t.trial_id, 'sequence': t.sequence, 'default': t.default,
                                                    'parameters': t.parameters, 'final': t.final} for t in best])
    if any(t.default is not None for t in record.trials):
        paths['plot'] = _plot_best_so_far(record, out / 'best_so_far.png')
    if best:
        drawn = _draw_best(best[0], out / 'best_cell.png')
        if drawn is not None:
            paths['cell'] = drawn
    return paths


def _cell(value: Any) -> str:
    if value is None:
        return ''
    return value if isinstance(value, str) else json.dumps(value)


def _plot_best_so_far(record: ExperimentRecord, path: Path) -> Path:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    from ..files import atomic_path
    values = np.array([np.nan if t.default is None else t.default for t in record.trials], dtype=float)
    acc = np.fmax.accumulate(values if record.maximize else -values)
    best = acc if record.maximize else -acc
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    x = np.arange(1, len(values) + 1)
    ax.scatter(x, values, s=10, alpha=0.5, label='trial')
    ax.step(x, best, where='post', color='C3', lw=1.8, label='best so far')
    ax.set_xlabel('trial (submission order)')
    ax.set_ylabel('default metric')
    ax.set_title(f'experiment {record.experiment_id}: {len(values)} trials', fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png')
    plt.close(fig)
    return path


def _draw_best(trial: TrialRecord, path: Path) -> Path | None:
    """Draw the best trial's cell when its parameters are a NAS-Bench-201 cell (else nothing)."""
    from ..spaces.nb201 import NB201Arch
    from ..spaces.nb201_draw import draw_nb201_cell
    params = {k: v for k, v in trial.parameters.items() if not str(k).startswith('_report_')}
    try:
        cell = NB201Arch.from_sample(params)
    except (ValueError, KeyError, TypeError):
        return None
    return draw_nb201_cell(cell, path, title=f'trial {trial.trial_id}: default {trial.default:.4f}\n{cell.to_str()}')
