"""The ``space`` classArg of the project's tuners: which NNI model space the trials' parameters belong to.

A tuner receives only NNI's HPO search space (``{label: {"_type": "choice", "_value": [...]}}``). Zero-cost
proxies and alpha-NAS's properties need the networks, so the tuners take ``space``: ``nb201`` (default: the
six NAS-Bench-201 edges), or the user's own ``ModelSpace`` as ``/abs/path/to/file.py:CLASS`` or
``PACKAGE.MODULE:CLASS`` (importable by the dispatcher, which NNI starts in the experiment's log folder).
Its labels must be the search space's labels, with the search space's values among the space's own.
"""
from __future__ import annotations

import os
from typing import Any

__all__ = ['check_space_arg', 'space_choices']

BENCHMARK_SPACES = ('nb201',)


def check_space_arg(tuner: str, value: Any) -> None:
    """Light check (no imports) of a ``space`` classArg; one-line ``ValueError``."""
    if value in BENCHMARK_SPACES:
        return
    text = value if isinstance(value, str) else ''
    module, sep, attr = text.rpartition(':')
    if not sep or not module.strip() or not attr.strip():
        raise ValueError(f"{tuner}: classArg space must be 'nb201', '/abs/path/file.py:CLASS' or "
                         f"'PACKAGE.MODULE:CLASS', got {value!r}")
    if module.endswith('.py'):
        if not os.path.isabs(os.path.expanduser(module)):
            raise ValueError(f'{tuner}: classArg space {value!r}: give an absolute path (NNI starts tuners in the '
                             "experiment's log folder)")
        if not os.path.isfile(os.path.expanduser(module)):
            raise ValueError(f'{tuner}: classArg space {value!r}: {module} is not a file')


def space_choices(tuner: str, search_space: dict, space: str) -> tuple[Any, dict[str, list]]:
    """``(adapter, {label: values})`` of a user space's search space; one-line ``ValueError`` when they differ."""
    from ..spaces.adapter import adapter_for
    if not isinstance(search_space, dict) or not search_space:
        raise ValueError(f'{tuner} needs a search space dict, got {search_space!r}')
    adapter = adapter_for(space)
    own = {label: list(c.values) for label, c in adapter.choices().items()}
    choices = {}
    for label, spec in search_space.items():
        if not isinstance(spec, dict) or spec.get('_type') != 'choice':
            raise ValueError(f'{tuner}: search space label {label!r} must be a "choice", got {spec!r}')
        if label not in own:
            raise ValueError(f'{tuner}: search space label {label!r} is not a label of {space} '
                             f'(its labels: {", ".join(own)})')
        stray = [v for v in spec['_value'] if v not in own[label]]
        if stray:
            raise ValueError(f'{tuner}: label {label!r}: values {stray} are not choices of {space} ({own[label]})')
        choices[label] = list(spec['_value'])
    missing = [label for label in own if label not in choices]
    if missing:
        raise ValueError(f'{tuner}: the search space lacks labels {missing} of {space}')
    return adapter, choices
