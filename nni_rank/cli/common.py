"""Helpers shared by sub-commands: argument types that range-check, output checks, atomic writes."""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Callable

from ..files import atomic_path, write_json, write_text  # noqa: F401  (re-exported for the commands)


def int_at_least(low: int) -> Callable[[str], int]:
    """argparse ``type=``: an integer >= ``low`` (argparse prints the one-line error)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None
        if value < low:
            raise argparse.ArgumentTypeError(f'must be >= {low}, got {value}')
        return value
    parse.__name__ = f'integer >= {low}'
    return parse


def float_in(low: float, high: float = float('inf'), *, open_low: bool = False) -> Callable[[str], float]:
    """argparse ``type=``: a finite float in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
        if value != value or value in (float('inf'), float('-inf')) or value > high or value < low or \
                (open_low and value == low):
            bounds = f'{"(" if open_low else "["}{low:g}, {high:g}]'
            raise argparse.ArgumentTypeError(f'must be in {bounds}, got {text}')
        return value
    parse.__name__ = 'number'
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
positive_float = float_in(0.0, open_low=True)
non_negative_float = float_in(0.0)


def check_output_file(path: str | os.PathLike | None, what: str = 'output') -> Path | None:
    """Fail before any work when ``path`` cannot be written as a file (a folder, an unwritable place)."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise ValueError(f'{what} {path} is a folder; give a file name')
    _check_writable_folder(path.parent, path, what)
    return path


def check_output_dir(path: str | os.PathLike | None, what: str = 'output folder') -> Path | None:
    """Fail before any work when ``path`` cannot be used as an output folder."""
    if path is None:
        return None
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f'{what} {path} is a file; give a folder')
    _check_writable_folder(path, path, what)
    return path


def _check_writable_folder(folder: Path, target: Path, what: str) -> None:
    existing = folder
    while not existing.exists():  # the nearest existing ancestor must let us create the rest
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ValueError(f'cannot write {what} {target}: {existing} is a file')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f'cannot write {what} {target}: {existing} is not writable')



def space_spec(text: str) -> str:
    """argparse ``type=`` of ``--space``: ``nb201``, ``nb101``, ``PACKAGE.MODULE:CLASS`` or ``file.py:CLASS``
    (loaded by the command)."""
    if text in ('nb201', 'nb101') or (':' in text and all(part.strip() for part in text.rsplit(':', 1))):
        return text
    raise argparse.ArgumentTypeError(f'expected nb201, nb101, PACKAGE.MODULE:CLASS or path/to/file.py:CLASS (an NNI '
                                     f'ModelSpace), got {text!r}')


space_spec.__name__ = 'space'


def add_space_option(parser: argparse.ArgumentParser) -> None:
    """``--space``: a benchmark space or the user's own NNI ModelSpace (its table is keyed by its labels)."""
    parser.add_argument('--space', default='nb201', type=space_spec,
                        help='nb201, nb101, or PACKAGE.MODULE:CLASS or path/to/file.py:CLASS: your own NNI ModelSpace '
                             '(built with no arguments; the current folder is importable), whose --benchmark is a CSV with one column per '
                             'label and one per metric, or JSON mapping an encoded sample to its metrics')
