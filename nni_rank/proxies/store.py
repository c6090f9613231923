"""Proxy scores of NAS-Bench-201 cells by architecture string, computed once and cached on disk.

>>> store = ProxyStore(['synflow', 'naswot'], data='../shared/data/cifar10_train_10k.bin')
>>> store.scores(['|nor_conv_3x3~0|+|...|'])        # (n, 2) float array, NaN where undefined

Every architecture is built with init seed ``seed`` and scored on the same seeded minibatch (random
crop + flip, as the zero-cost reference does), so a score depends only on the architecture and the
store's settings. The cache (``cache_dir``, one CSV per setting) is keyed by all of them; it is
appended to as new architectures are scored, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import csv
import io
import math
import os
import warnings
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from ..files import short_hash
from .common import ProxyWarning
from .compute import score_nb201
from .registry import PROXIES, resolve_names

__all__ = ['ProxyCacheWarning', 'ProxyStore', 'cache_passes', 'proxy_batch']

#: Input of NAS-Bench-201 networks (CIFAR-sized RGB images), for data-independent proxies.
NB201_INPUT_SHAPE = (3, 32, 32)
_HEADER = ['arch_str', *PROXIES]


def setting_key(names, data, batch_size: int, seed: int) -> str:
    """Short hash naming a disk cache of proxy scores: the minibatch (``data`` None: no data needed), its size and
    seed, for ``zc_ensemble`` its calibration (scores computed with another one are not reused) and for ``fisher``
    its per-weight count (caches of the earlier per-channel sum are not reused)."""
    setting = f'{"none" if data is None else data}|{batch_size}|{seed}'
    if 'fisher' in names:
        setting += '|fisher-per-weight'
    if 'zc_ensemble' in names:
        from .ensemble import calibration_digest
        setting += f'|{calibration_digest()}'
    return short_hash(setting)


def cache_passes(names: Sequence[str]) -> list[list[str]]:
    """``names`` in groups scored one after the other, so no cache file carries both ``fisher``'s and
    ``zc_ensemble``'s version (:func:`setting_key`): with both, ``fisher`` apart; each is then written to the file a
    search of it reads."""
    if 'fisher' in names and 'zc_ensemble' in names:
        return [['fisher'], [n for n in names if n != 'fisher']]
    return [list(names)]


class ProxyCacheWarning(ProxyWarning):
    """Unreadable lines of a proxy cache file were skipped (the scores are computed again)."""


def proxy_batch(data: str | os.PathLike | None = 'digits', batch_size: int = 64, seed: int = 0,
                augment: bool = True) -> tuple[tuple[torch.Tensor, torch.Tensor], str, int]:
    """``((x, y), description, num_classes)``: the seeded training minibatch proxies are scored on.

    ``data`` is ``'digits'`` (embedded, 3x32x32) or a local CIFAR folder / ``.bin`` file. The batch is read
    once per process and setting (proxies never modify it): every store and scorer of a run shares it.
    """
    key = (str(data), int(batch_size), int(seed), bool(augment))
    if key not in _BATCHES:
        _BATCHES[key] = _read_batch(data, batch_size, seed, augment)
    return _BATCHES[key]


_BATCHES: dict[tuple, tuple[tuple[torch.Tensor, torch.Tensor], str, int]] = {}


def _read_batch(data, batch_size: int, seed: int, augment: bool):
    from nni_rank.data import data_source, single_minibatch
    dataset, description = data_source(data, split='train', seed=0)
    batch = single_minibatch(dataset, batch_size=batch_size, seed=seed, augment=augment)
    return batch, description, int(getattr(dataset, 'num_classes', 10))


class KnownScores:
    """What a store has scored already (in memory or read from its disk cache); mixed into the stores."""

    names: list[str]
    _values: dict[str, dict[str, float]]

    def known(self, keys: Iterable[str]) -> dict[str, list[float]]:
        """``{key: values in names order}`` for the keys (``adapter.describe`` texts) with every proxy known."""
        return {k: [self._values[k][n] for n in self.names] for k in keys
                if all(n in self._values.get(k, {}) for n in self.names)}


class ProxyStore(KnownScores):
    """Zero-cost proxy scores of NB201 architectures, cached per architecture string.

    Parameters
    ----------
    names
        Proxies to compute (see :func:`~nni_rank.proxies.available_proxies`).
    data
        ``'digits'`` or a local CIFAR path; only read when a data-dependent proxy is asked for.
    batch_size, seed
        Minibatch size and the seed of both the minibatch and every network's initialisation.
    cache_dir
        Folder for the CSV cache (``None``: in memory only).
    device
        Where the networks are scored.
    """

    def __init__(self, names: str | Iterable[str], data: str | os.PathLike | None = 'digits',
                 batch_size: int = 64, seed: int = 0, cache_dir: str | os.PathLike | None = None,
                 device: str = 'cpu'):
        self.names = resolve_names(names)
        self.data, self.batch_size, self.seed, self.device = data, int(batch_size), int(seed), device
        self.needs_data = any(PROXIES[n].data_dependent for n in self.names)
        self._batch = None
        self._num_classes = 10
        self.description = 'no data (data-independent proxies only)'
        self._values: dict[str, dict[str, float]] = {}
        self.nan_reasons: dict[str, dict[str, str]] = {}
        self.cache_file = None
        if cache_dir is not None:
            self.cache_file = Path(cache_dir) / f'nb201-proxies-{self._key()}.csv'
            self._load_cache()

    def _key(self) -> str:
        return setting_key(self.names, self.data if self.needs_data else None, self.batch_size, self.seed)

    def _load_cache(self) -> None:
        """Read the cache. A torn line (a run killed mid-write) or a garbled one is skipped with a
        :class:`ProxyCacheWarning` naming the file and line, and the file is rewritten without it; a file
        of another column layout is rewritten in the current one. Never fatal."""
        if self.cache_file is None or not self.cache_file.is_file():
            return
        from nni_rank.spaces import NB201Arch
        with open(self.cache_file, newline='', encoding='utf-8', errors='replace') as f:
            *lines, tail = f.read().split('\n')  # tail: what follows the last newline ('' unless torn)
        if not lines and not tail:
            return  # empty: the header is written with the first scores
        header = lines[0].rstrip('\r').split(',') if lines else []
        bad = []
        if header[:1] != ['arch_str']:
            bad, lines, tail = [(1, 'not a proxy-cache header; the whole file is ignored')], [], ''
        for lineno, line in enumerate(lines[1:], start=2):
            fields = line.rstrip('\r').split(',')
            try:
                if len(fields) != len(header):
                    raise ValueError(f'{len(fields)} fields, the header has {len(header)}')
                arch = NB201Arch.from_str(fields[0]).to_str()
                vals = {k: float(v) for k, v in zip(header[1:], fields[1:]) if k in PROXIES and v != ''}
            except ValueError as err:
                bad.append((lineno, str(err)))
                continue
            self._values.setdefault(arch, {}).update(vals)
        if tail:
            bad.append((len(lines) + 1, 'torn last line: no newline, a write was interrupted'))
        if bad:
            lineno, why = bad[0]
            warnings.warn(f'skipped {len(bad)} unreadable line(s) of proxy cache {self.cache_file}: first at line '
                          f'{lineno} ({why}); the file is rewritten without them', ProxyCacheWarning, stacklevel=3)
        if bad or header != _HEADER:
            self._write_cache(list(self._values.items()), rewrite=True)

    def _append_cache(self, rows: list[tuple[str, dict[str, float]]]) -> None:
        if self.cache_file is None or not rows:
            return
        if self._torn():  # never glue onto a torn line: re-read the file (a warning names it) and rewrite it
            self._load_cache()  # with every score known, ``rows`` included
        else:
            self._write_cache(rows)

    def _torn(self) -> bool:
        """True when the cache file does not end with a newline (a write was interrupted)."""
        try:
            with open(self.cache_file, 'rb') as f:
                return f.seek(0, os.SEEK_END) > 0 and (f.seek(-1, os.SEEK_END), f.read(1))[1] != b'\n'
        except FileNotFoundError:
            return False

    def _write_cache(self, rows: list[tuple[str, dict[str, float]]], rewrite: bool = False) -> None:
        """Append ``rows`` as whole lines in one write, or with ``rewrite`` replace the file atomically by
        the header and ``rows``."""
        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        text = io.StringIO()
        w = csv.writer(text)
        if rewrite or not self.cache_file.is_file() or self.cache_file.stat().st_size == 0:
            w.writerow(_HEADER)
        for arch, vals in rows:
            w.writerow([arch, *('' if n not in vals else repr(vals[n]) for n in PROXIES)])
        data = text.getvalue().encode('utf-8')
        if rewrite:
            from ..files import atomic_path
            with atomic_path(self.cache_file) as tmp:
                tmp.write_bytes(data)
        else:
            with open(self.cache_file, 'ab', buffering=0) as f:  # one write: lines of processes sharing the cache never mix
                f.write(data)

    @property
    def batch(self):
        """The minibatch (loaded on first use)."""
        if self._batch is None and self.needs_data:
            self._batch, self.description, self._num_classes = proxy_batch(self.data, self.batch_size, self.seed)
        return self._batch

    def score(self, arch) -> dict[str, float]:
        """``{name: value}`` for one architecture (an ``NB201Arch``, string, or sample dict)."""
        return dict(zip(self.names, self.scores([arch])[0]))

    def scores(self, archs: Sequence, progress: bool = False) -> np.ndarray:
        """``(len(archs), len(names))`` float array; NaN where a proxy is undefined for an architecture."""
        from nni_rank.spaces import NB201Arch
        keys = [NB201Arch.parse(a).to_str() for a in archs]
        todo = [k for k in dict.fromkeys(keys) if any(n not in self._values.get(k, {}) for n in self.names)]
        if todo:
            self._compute(todo, progress)
        return np.array([[self._values[k][n] for n in self.names] for k in keys], dtype=np.float64).reshape(len(keys), len(self.names))

    def _compute(self, archs: list[str], progress: bool) -> None:
        batch = self.batch
        iterator = archs
        if progress:
            from ..runtime import progress as progress_bar
            iterator = progress_bar(archs, desc='proxies', unit='arch')
        rows = []
        nan_count = 0
        for arch in iterator:
            missing = [n for n in self.names if n not in self._values.get(arch, {})]
            report: dict[str, str] = {}
            vals = score_nb201(arch, batch, missing, seed=self.seed, num_classes=self._num_classes,
                               input_shape=None if batch is not None else NB201_INPUT_SHAPE,
                               report=report, warn=False, device=self.device)
            if report:
                self.nan_reasons[arch] = report
                nan_count += 1
            self._values.setdefault(arch, {}).update(vals)
            rows.append((arch, vals))
            if len(rows) >= 256:
                self._append_cache(rows)
                rows = []
        self._append_cache(rows)
        if nan_count:
            warnings.warn(f'{nan_count} of {len(archs)} architectures have proxies that are undefined '
                          '(NaN; ranked last); see ProxyStore.nan_reasons', ProxyWarning, stacklevel=3)

    def nan_count(self) -> dict[str, int]:
        """Number of NaN values per proxy among the architectures scored so far."""
        return {n: sum(1 for v in self._values.values() if n in v and not math.isfinite(v[n])) for n in self.names}
