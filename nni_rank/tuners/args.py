"""``classArgs`` checking shared by the project's tuners.

Each tuner module has a ``validate_class_args(**class_args)`` that its ``__init__`` calls and that its
``ClassArgsValidator`` (registered by ``nni-rank register``) calls, so both give the same one-line
message. Light on purpose (no torch): NNI runs validators in the ``nnictl`` process and the tuner's
``__init__`` runs before the dispatcher connects.
"""
from __future__ import annotations

import csv
import importlib.util
import inspect
import sys
from numbers import Real
from pathlib import Path
from typing import Iterable

__all__ = ['ClassArgs', 'init_args', 'proxy_registry', 'use_threads']


def init_args(frame_locals: dict) -> dict:
    """A tuner ``__init__``'s arguments from its ``locals()`` (taken first thing in the body)."""
    return {k: v for k, v in frame_locals.items() if k not in ('self', '__class__')}


class ClassArgs(dict):
    """A tuner's arguments, defaults filled in from ``tuner.__init__``; unknown keys are refused.

    The ``check_*`` methods raise :class:`ValueError` ``'<Tuner>: classArg <name> must be ..., got ...'``.
    """

    def __init__(self, tuner: type, class_args: dict):
        params = [p for p in inspect.signature(tuner.__init__).parameters.values() if p.name != 'self']
        self.tuner = tuner.__name__
        names = [p.name for p in params]
        unknown = [k for k in class_args if k not in names]
        if unknown:
            self.fail(f'unknown classArgs {", ".join(map(repr, unknown))}; it takes {", ".join(names)}')
        super().__init__((p.name, class_args.get(p.name, p.default)) for p in params)

    def fail(self, message: str) -> None:
        raise ValueError(f'{self.tuner}: {message}')

    def _bad(self, name: str, what: str) -> None:
        self.fail(f'classArg {name} must be {what}, got {self[name]!r}')

    def check_int(self, name: str, low: int | None = None, high: int | None = None, optional: bool = False) -> None:
        value = self[name]
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low) \
                or (high is not None and value > high):
            what = 'an integer' + (f' >= {low}' if low is not None else '')
            what += (' and' if low is not None else '') + f' <= {high}' if high is not None else ''
            self._bad(name, what + (' or null' if optional else ''))

    def check_number(self, name: str, low: float, high: float | None = None, low_open: bool = False,
                     high_open: bool = False) -> None:
        value = self[name]
        ok = isinstance(value, Real) and not isinstance(value, bool) and (value > low if low_open else value >= low)
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            bounds = f'{">" if low_open else ">="} {low}'
            if high is not None:
                bounds += f' and {"<" if high_open else "<="} {high}'
            hint = ' (YAML reads 1e-3 as a string: write 1.0e-3)' if isinstance(value, str) and _is_float(value) else ''
            self.fail(f'classArg {name} must be a number {bounds}, got {value!r}{hint}')

    def check_choice(self, name: str, options: Iterable[str]) -> None:
        options = list(options)
        if self[name] not in options:
            self._bad(name, ' or '.join(map(repr, options)))

    def check_bool(self, name: str) -> None:
        if not isinstance(self[name], bool):
            self._bad(name, 'true or false')

    def check_str(self, name: str, optional: bool = False) -> None:
        if not (isinstance(self[name], str) and self[name].strip()) and not (optional and self[name] is None):
            self._bad(name, f'a non-empty string{" or null" if optional else ""}')

    def check_common(self) -> None:
        """``optimize_mode``, ``seed``, ``threads`` and (where taken) ``max_trials``: the same in every tuner."""
        self.check_choice('optimize_mode', ('maximize', 'minimize'))
        self.check_int('seed', optional=True)
        self.check_int('threads', low=1, optional=True)
        if 'max_trials' in self:
            self.check_int('max_trials', low=1, optional=True)

    def check_sizes(self, population: str = 'population_size', sample: str = 'sample_size') -> None:
        """Regularized evolution: ``population_size >= 1`` and ``1 <= sample_size <= population_size``."""
        self.check_int(population, low=1)
        self.check_int(sample, low=1)
        if self[sample] > self[population]:
            self.fail(f'classArg {sample} must be <= {population} ({self[population]}), got {self[sample]}')

    def check_proxies(self, name: str, table: str | None = None, data: str | None = None) -> list[str]:
        """Comma-separated proxy names: the project's proxies, or columns of the proxy ``table`` when given;
        ``data`` (for data-dependent proxies) must be ``'digits'`` or an existing path. Returns the names."""
        value = self[name]
        if isinstance(value, str):
            value = value.split(',')
        if not isinstance(value, (list, tuple)) or not all(isinstance(n, str) for n in value):
            self._bad(name, 'proxy names, comma-separated or a list')
        names = [n.strip() for n in value if n.strip()]
        registry = proxy_registry()
        if table is not None and self[table] is not None:
            self.check_str(table)
            path = Path(self[table]).expanduser()
            if not path.is_file():
                self.fail(f'classArg {table}: {path} is not a file')
            with open(path, newline='') as f:
                header = next(csv.reader(f), [])
            missing = [n for n in names if n not in header and registry.REFERENCE_COLUMNS.get(n) not in header]
            if missing:
                self.fail(f'classArg {name}: {", ".join(map(repr, missing))} not columns of {path}')
            return names
        try:
            names = registry.resolve_names(names)
        except ValueError as err:
            self.fail(f'classArg {name}: {err}')
        if data is not None and any(registry.PROXIES[n].data_dependent for n in names):
            self.check_str(data)
            if self[data] != 'digits' and not Path(self[data]).expanduser().exists():
                self.fail(f"classArg {data} must be 'digits' or an existing CIFAR path, got {self[data]!r}")
        return names


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def proxy_registry():
    """:mod:`nni_rank.proxies.registry` without importing the package (whose ``__init__`` imports torch)."""
    if 'nni_rank.proxies.registry' in sys.modules:
        return sys.modules['nni_rank.proxies.registry']
    name = '_nni_rank_proxy_registry'
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / 'proxies' / 'registry.py'
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def use_threads(threads: int | None) -> None:
    """torch threads of this process, from a tuner's ``threads`` classArg (None: leave them as they are)."""
    if threads is not None:
        from ..runtime import set_threads
        set_threads(threads)
