"""One seeded minibatch for zero-cost proxies, and the user-facing choice of data.

:func:`single_minibatch` draws the same batch for the same ``seed`` however often it is called.
When the source has fewer samples than ``batch_size`` it returns all of them with a
:class:`UserWarning` (``strict=True`` raises :class:`ValueError` instead); an empty source always
raises :class:`ValueError`.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterable

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset, default_collate

from .cifar import _AugmentCollate, augment_batch, load_cifar
from .digits import load_digits_dataset

__all__ = ['single_minibatch', 'data_source']


def _describe(source) -> str:
    desc = getattr(source, 'description', None)
    if desc is None:
        desc = getattr(getattr(source, 'dataset', None), 'description', None)
    return desc or type(source).__name__


def _balanced_indices(labels: torch.Tensor, batch_size: int, num_classes: int,
                      gen: torch.Generator, name: str, strict: bool) -> torch.Tensor:
    """Seeded indices with ``batch_size // num_classes`` per class (remainder to random classes)."""
    per = torch.full((num_classes,), batch_size // num_classes, dtype=torch.long)
    extra = torch.randperm(num_classes, generator=gen)[: batch_size % num_classes]
    per[extra] += 1
    perm = torch.randperm(len(labels), generator=gen)
    chosen = []
    for c in range(num_classes):
        idx = perm[labels[perm] == c][: int(per[c])]
        if len(idx) < per[c]:
            msg = f'{name} has only {len(idx)} samples of class {c}, {int(per[c])} requested'
            if strict:
                raise ValueError(msg)
            warnings.warn(msg + '; using those', UserWarning, stacklevel=4)
        chosen.append(idx)
    idx = torch.cat(chosen)
    return idx[torch.randperm(len(idx), generator=gen)]


def _fetch(dataset, indices: torch.Tensor, collate) -> tuple[torch.Tensor, torch.Tensor]:
    tensors = getattr(dataset, 'tensors', None)
    if isinstance(dataset, TensorDataset) and tensors is not None and len(tensors) >= 2:
        return tensors[0][indices], tensors[1][indices]
    batch = collate([dataset[int(i)] for i in indices])
    return batch[0], batch[1]


def _labels_of(dataset) -> torch.Tensor:
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:
        return dataset.tensors[1].reshape(-1).long()
    targets = getattr(dataset, 'targets', None)
    if targets is None:
        targets = getattr(dataset, 'labels', None)
    if targets is not None and len(targets) == len(dataset):
        return torch.as_tensor(targets).reshape(-1).long()
    return torch.as_tensor([int(dataset[i][1]) for i in range(len(dataset))])


def _from_iterable(source: Iterable, batch_size: int, seed: int, name: str):
    """First ``batch_size`` samples of an iterable of ``(x, y)`` batches, global RNG forked+seeded."""
    xs, ys, n = [], [], 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for batch in source:
            x, y = batch[0], batch[1]
            x, y = torch.as_tensor(x), torch.as_tensor(y)
            if x.dim() == 3:  # a single sample, not a batch
                x, y = x.unsqueeze(0), y.reshape(1)
            xs.append(x)
            ys.append(y.reshape(-1))
            n += len(x)
            if n >= batch_size:
                break
    if n == 0:
        raise ValueError(f'{name} yields no data: cannot draw a minibatch')
    return torch.cat(xs)[:batch_size], torch.cat(ys)[:batch_size]


def single_minibatch(source: Any, batch_size: int = 64, seed: int = 0, num_classes: int | None = None,
                     device: str | torch.device = 'cpu', augment: bool = False,
                     strict: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded minibatch ``(x, y)`` from a dataset or loader (same seed -> identical batch).

    * map-style dataset, or a ``DataLoader`` over one: ``batch_size`` samples drawn at random with
      ``seed`` from the dataset (a loader's own sampler, batch size and augmentation are not used);
    * ``num_classes`` given: a class-balanced batch (``batch_size // num_classes`` per class, the
      remainder to seeded random classes, as GraSP-style proxies use) and labels are checked to be
      in ``0..num_classes-1``;
    * iterable dataset / loader / any iterable of ``(x, y)`` batches: its first ``batch_size``
      samples, iterated with torch's global RNG forked and seeded with ``seed``;
    * ``augment=True``: crop-32-pad-4 + flip (:func:`~nni_rank.data.cifar.augment_batch`) seeded
      with ``seed``.

    Raises :class:`ValueError` when the source yields no data.  With fewer samples than
    ``batch_size``, returns them all and warns (``strict=True``: raises).  Labels are int64.
    """
    if batch_size <= 0:
        raise ValueError(f'batch_size must be positive, got {batch_size}')
    if num_classes is not None and num_classes <= 0:
        raise ValueError(f'num_classes must be positive, got {num_classes}')
    name = _describe(source)
    gen = torch.Generator().manual_seed(int(seed))

    dataset = source.dataset if isinstance(source, DataLoader) else source
    collate = default_collate
    if isinstance(source, DataLoader) and source.collate_fn is not None \
            and not isinstance(source.collate_fn, _AugmentCollate):
        collate = source.collate_fn
    map_style = isinstance(dataset, Dataset) and not isinstance(dataset, IterableDataset) \
        and hasattr(dataset, '__len__') and hasattr(dataset, '__getitem__')

    if map_style:
        n = len(dataset)
        if n == 0:
            raise ValueError(f'{name} yields no data: the dataset is empty')
        if num_classes is not None:
            labels = _labels_of(dataset)
            if labels.min() < 0 or labels.max() >= num_classes:
                raise ValueError(f'{name}: labels span {int(labels.min())}..{int(labels.max())}, '
                                 f'outside 0..{num_classes - 1} (num_classes={num_classes})')
            idx = _balanced_indices(labels, batch_size, num_classes, gen, name, strict)
        else:
            idx = torch.randperm(n, generator=gen)[:batch_size]
        x, y = _fetch(dataset, idx, collate)
    else:
        if not isinstance(source, Iterable):
            raise TypeError(f'single_minibatch needs a dataset or an iterable of (x, y) batches, '
                            f'got {type(source).__name__}')
        x, y = _from_iterable(source, batch_size, int(seed), name)
        if num_classes is not None and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f'{name}: labels outside 0..{num_classes - 1} (num_classes={num_classes})')

    if len(x) < batch_size:
        msg = f'{name} has only {len(x)} samples, fewer than batch_size={batch_size}'
        if strict:
            raise ValueError(msg)
        if num_classes is None or map_style is False:
            warnings.warn(msg + '; using all of them', UserWarning, stacklevel=2)
    if not torch.is_floating_point(x):
        x = x.float()
    y = y.long()
    if augment:
        fill = getattr(dataset, 'fill', 0.0)
        x = augment_batch(x, gen, 4, fill)
    return x.to(device), y.to(device)


_DIGITS_NAMES = {'digits', 'sklearn-digits', 'sklearn_digits', 'embedded'}


def _guess_dataset(path: Path) -> str:
    """'cifar100' when the folder holds only CIFAR-100 layouts or the file/folder is named so."""
    if path.is_dir():
        has = lambda *names: any((path / d).exists() for d in names)  # noqa: E731
        c10, c100 = has('cifar-10-batches-py', 'cifar-10-batches-bin'), has('cifar-100-python', 'cifar-100-binary')
        if c10 != c100:
            return 'cifar100' if c100 else 'cifar10'
    return 'cifar100' if re.search(r'cifar[-_]?100', path.name.lower()) else 'cifar10'


def data_source(name_or_path: str | os.PathLike | None = None, split: str = 'train',
                dataset: str | None = None, limit: int | None = None, seed: int = 0,
                image_size: int = 32, channels: int = 3):
    """Resolve the user's data choice -> ``(dataset, description)``.

    ``None`` / ``'digits'`` -> the embedded scikit-learn digits (``seed``: split seed); anything
    else is a local CIFAR path for :func:`~nni_rank.data.cifar.load_cifar` (``dataset`` 'cifar10'
    or 'cifar100', guessed from the path when None; ``limit`` keeps the first images).  Nothing is
    downloaded; a missing path raises :class:`FileNotFoundError`.
    """
    key = name_or_path.strip().lower() if isinstance(name_or_path, str) else None
    if name_or_path is None or key in _DIGITS_NAMES:
        ds = load_digits_dataset(split, image_size, channels, seed=seed)
        if limit is not None and 0 < limit < len(ds):
            full = len(ds)
            ds.tensors = (ds.tensors[0][:limit], ds.tensors[1][:limit])
            ds.indices = ds.indices[:limit]
            ds.description = ds.description.replace(f'({full} ', f'(first {limit} of {full} ', 1)
        return ds, ds.description
    if key in ('cifar10', 'cifar-10', 'cifar100', 'cifar-100'):
        raise FileNotFoundError(
            f"'{name_or_path}' needs a local path: pass the folder holding cifar-10-batches-py / "
            'cifar-10-batches-bin (or cifar-100-python / cifar-100-binary) or a .bin file. '
            'Nothing is downloaded.')
    path = Path(os.path.expanduser(os.fspath(name_or_path)))
    ds = load_cifar(path, dataset or _guess_dataset(path), split, limit=limit)
    return ds, ds.description
