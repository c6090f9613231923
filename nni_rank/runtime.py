"""Process-wide run settings: torch's thread count and progress bars.

torch starts as many threads as there are cores; with several processes on a shared machine that
oversubscribes the cores and every process slows down many times over. nni-rank therefore picks the
thread count deliberately: one thread per process unless told otherwise (``--threads N`` on every
command, ``NNI_RANK_THREADS`` in the environment).
"""
from __future__ import annotations

import os
from typing import Iterable, TypeVar

T = TypeVar('T')

#: Threads per process when nothing else is said.
DEFAULT_THREADS = 1
_quiet = False


def default_threads() -> int:
    """``$NNI_RANK_THREADS`` when set (a positive integer), else :data:`DEFAULT_THREADS`."""
    text = os.environ.get('NNI_RANK_THREADS', '').strip()
    if not text:
        return DEFAULT_THREADS
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f'NNI_RANK_THREADS must be a positive integer, got {text!r}')
    return int(text)


def set_threads(n: int | None = None) -> int:
    """Use ``n`` torch threads in this process (``None``: :func:`default_threads`); returns the count."""
    n = default_threads() if n is None else int(n)
    if n < 1:
        raise ValueError(f'threads must be >= 1, got {n}')
    import torch
    torch.set_num_threads(n)
    return n


def set_quiet(quiet: bool) -> None:
    """Silence (or restore) every progress bar of this process."""
    global _quiet
    _quiet = bool(quiet)


def progress(iterable: Iterable[T] | None = None, **kwargs) -> Iterable[T]:
    """A tqdm bar with ETA on a terminal; silent with ``--quiet`` and when stderr is not a terminal (CI logs)."""
    from tqdm import tqdm
    kwargs.setdefault('disable', True if _quiet else None)  # None: tqdm disables itself off a terminal
    kwargs.setdefault('dynamic_ncols', True)
    return tqdm(iterable, **kwargs)
