"""The embedded default dataset: scikit-learn's handwritten digits, shaped like CIFAR.

``sklearn.datasets.load_digits`` ships inside scikit-learn (1,797 grey 8x8 images, 10 classes), so
it is always available without any download.  Here the images are scaled to ``[0, 1]``, resized
(bilinear) to ``image_size`` x ``image_size``, repeated to ``channels`` channels (NAS-Bench-201
networks take 3x32x32 input) and normalised with the mean/std of the training split.  The train/test
split is stratified and deterministic for a given ``seed`` (``test_fraction=0.2`` gives 1,437 / 360).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from .cifar import ImageTensorDataset, make_loader

__all__ = ['load_digits_dataset', 'digits_loader', 'DIGITS_CLASSES']

DIGITS_CLASSES = tuple(str(i) for i in range(10))


@lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32) / 16.0  # (1797, 8, 8), values 0..16
    images.setflags(write=False)
    target = np.asarray(bunch.target, dtype=np.int64)
    target.setflags(write=False)
    return images, target


@lru_cache(maxsize=8)
def _split_indices(test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split
    _, target = _raw_digits()
    idx = np.arange(len(target))
    train, test = train_test_split(idx, test_size=test_fraction, stratify=target, random_state=seed)
    return np.sort(train), np.sort(test)


def _resize(images: np.ndarray, image_size: int, channels: int) -> torch.Tensor:
    x = torch.from_numpy(np.array(images)).unsqueeze(1)  # (N, 1, 8, 8)
    if image_size != x.shape[-1]:
        x = F.interpolate(x, size=(image_size, image_size), mode='bilinear', align_corners=False)
    return x.repeat(1, channels, 1, 1) if channels > 1 else x.contiguous()


def load_digits_dataset(split: str = 'train', image_size: int = 32, channels: int = 3,
                        test_fraction: float = 0.2, seed: int = 0) -> ImageTensorDataset:
    """Embedded scikit-learn digits as normalised ``(N, channels, image_size, image_size)`` tensors.

    ``split`` is ``'train'``, ``'test'`` or ``'all'`` (every image, normalised with the train stats);
    the stratified split depends only on ``test_fraction`` and ``seed``.  The returned dataset's
    ``indices`` attribute holds the positions in ``sklearn.datasets.load_digits()``.
    """
    if split not in ('train', 'test', 'all'):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f'test_fraction must be in (0, 1), got {test_fraction}')
    if int(image_size) < 1 or int(channels) < 1:
        raise ValueError(f'image_size and channels must be positive, got {image_size}, {channels}')
    image_size, channels = int(image_size), int(channels)
    images, target = _raw_digits()
    train_idx, test_idx = _split_indices(float(test_fraction), int(seed))
    idx = {'train': train_idx, 'test': test_idx, 'all': np.arange(len(target))}[split]

    # normalisation statistics from the training images (grey, so one value for every channel)
    train_x = _resize(images[train_idx], image_size, 1)
    mean, std = float(train_x.mean()), float(train_x.std())
    x = train_x if split == 'train' else _resize(images[idx], image_size, 1)
    x = ((x - mean) / std).repeat(1, channels, 1, 1) if channels > 1 else (x - mean) / std
    y = torch.from_numpy(target[idx].copy())
    desc = (f'embedded scikit-learn digits ({len(y)} {split} images, {image_size}x{image_size}, '
            f'{channels} channel{"s" if channels > 1 else ""})')
    ds = ImageTensorDataset(x.contiguous(), y, classes=DIGITS_CLASSES, mean=[mean] * channels,
                            std=[std] * channels, description=desc, source=None, name='digits')
    ds.indices = idx.copy()
    return ds


def digits_loader(split: str = 'train', batch_size: int = 64, shuffle: bool = True, seed: int = 0,
                  num_workers: int = 0, augment: bool = False, drop_last: bool = False,
                  image_size: int = 32, channels: int = 3, test_fraction: float = 0.2,
                  split_seed: int = 0):
    """:func:`load_digits_dataset` in a seeded :class:`~torch.utils.data.DataLoader`.

    ``seed`` drives order and augmentation; ``split_seed`` the train/test split.
    """
    ds = load_digits_dataset(split, image_size, channels, test_fraction, split_seed)
    return make_loader(ds, batch_size, shuffle, seed, num_workers, augment, drop_last)
