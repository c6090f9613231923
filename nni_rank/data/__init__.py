"""Data for NAS: local CIFAR-10/100 (never downloaded), the embedded scikit-learn digits, and a
seeded single minibatch for zero-cost proxies.

* :func:`load_cifar` / :func:`cifar_loader`: CIFAR from torchvision's pickled folders, the official
  binary folders or single ``.bin`` files, normalised ``(N, 3, 32, 32)`` float tensors;
* :func:`load_digits_dataset` / :func:`digits_loader`: sklearn's 8x8 digits resized to 3x32x32;
* :func:`single_minibatch`: the same batch for the same seed;
* :func:`data_source`: ``None``/``'digits'`` or a CIFAR path -> ``(dataset, description)``.
"""
from .cifar import (CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, CIFAR100_CLASSES, CIFAR100_MEAN,
                    CIFAR100_STD, ImageTensorDataset, augment_batch, cifar_loader, load_cifar,
                    make_loader)
from .digits import DIGITS_CLASSES, digits_loader, load_digits_dataset
from .minibatch import data_source, single_minibatch

__all__ = [
    'load_cifar', 'cifar_loader', 'load_digits_dataset', 'digits_loader', 'single_minibatch',
    'data_source', 'augment_batch', 'make_loader', 'ImageTensorDataset',
    'CIFAR10_MEAN', 'CIFAR10_STD', 'CIFAR100_MEAN', 'CIFAR100_STD',
    'CIFAR10_CLASSES', 'CIFAR100_CLASSES', 'DIGITS_CLASSES',
]
