"""Data shipped with the package: the NAS-Bench-201 table the demo (``nni-rank demo``) searches.

``nb201_cifar.csv.gz`` holds, for all 15,625 NAS-Bench-201 cells in benchmark index order, the
200-epoch test and validation accuracies on CIFAR-10 and CIFAR-100 (NATS-Bench / NAS-Bench-201
values) and three data-independent zero-cost proxies computed by this package (``synflow``,
``params``, ``flops``; seed 0, ``nni_rank.proxies.ProxyStore``). It is rebuilt by
``python -m nni_rank.resources.build_nb201``. :func:`packaged_nb201` unpacks it once into a cache
folder and returns the CSV path, so every loader that takes a table path takes it.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
from pathlib import Path

__all__ = ['PACKAGED_NB201', 'packaged_nb201', 'resolve_benchmark']

#: The name that stands for the packaged table wherever a benchmark path is accepted.
PACKAGED_NB201 = 'nb201-packaged'
_ARCHIVE = Path(__file__).with_name('nb201_cifar.csv.gz')


def cache_folder() -> Path:
    """``$NNI_RANK_CACHE``, else ``$XDG_CACHE_HOME/nni-rank``, else ``~/.cache/nni-rank``."""
    if os.environ.get('NNI_RANK_CACHE'):
        return Path(os.environ['NNI_RANK_CACHE'])
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'nni-rank'


def packaged_nb201() -> Path:
    """Path of the unpacked packaged NB201 table (unpacked on first use, and again if it was changed)."""
    return _unpacked(str(cache_folder()))


@functools.lru_cache(maxsize=None)
def _unpacked(folder: str) -> Path:
    """Unpack (when needed) into ``folder``; once per process and folder."""
    from ..files import atomic_path
    if not _ARCHIVE.is_file():
        raise FileNotFoundError(f'the packaged NB201 table {_ARCHIVE} is missing: reinstall nni-rank')
    data = gzip.decompress(_ARCHIVE.read_bytes())
    digest = hashlib.sha256(data).hexdigest()[:16]
    path = Path(folder) / f'nb201_cifar-{digest}.csv'
    if not path.is_file() or path.stat().st_size != len(data):
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
    return path


def resolve_benchmark(spec: str) -> str:
    """``'nb201-packaged'`` -> the packaged table's path; any other benchmark spec unchanged."""
    return str(packaged_nb201()) if str(spec).strip() == PACKAGED_NB201 else spec
