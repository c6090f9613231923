"""CIFAR-10 / CIFAR-100 from a local path: never downloads.

Layouts understood by :func:`load_cifar` (``root`` may be any of these):

* torchvision's pickled folders, ``root/cifar-10-batches-py/{data_batch_1..5,test_batch}`` and
  ``root/cifar-100-python/{train,test}`` (or ``root`` being that folder itself);
* the official binary folders, ``root/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin``
  (1 label byte + 3072 pixel bytes per record) and ``root/cifar-100-binary/{train,test}.bin``
  (2 label bytes, coarse then fine; the fine label is used), or ``root`` being that folder;
* a folder of binary files whose names contain ``train`` / ``test`` and end in ``.bin``
  (e.g. ``cifar10_train_10k.bin``), picked by ``split``;
* ``root`` being one ``.bin`` file (binary records) or one pickled batch file (``split`` is then
  ignored).

Images become normalised ``float32`` tensors ``(N, 3, 32, 32)`` with the standard CIFAR mean/std
(the NAS-Bench-201 values); labels are ``int64``.  Training augmentation (random crop 32 with
padding 4, horizontal flip) is applied per batch on tensors by :func:`augment_batch`, with an
explicit seeded generator, so results are reproducible.

Note: the pickled layouts are read with :mod:`pickle`, as torchvision does; only load files you
trust.
"""
from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, default_collate, get_worker_info

__all__ = [
    'CIFAR10_MEAN', 'CIFAR10_STD', 'CIFAR100_MEAN', 'CIFAR100_STD', 'CIFAR10_CLASSES',
    'CIFAR100_CLASSES', 'ImageTensorDataset', 'load_cifar', 'cifar_loader', 'augment_batch',
    'make_loader',
]

PathLike = Union[str, os.PathLike]

#: Per-channel mean / std of the CIFAR training sets (values used by NAS-Bench-201).
CIFAR10_MEAN = tuple(v / 255 for v in (125.3, 123.0, 113.9))
CIFAR10_STD = tuple(v / 255 for v in (63.0, 62.1, 66.7))
CIFAR100_MEAN = tuple(v / 255 for v in (129.3, 124.1, 112.4))
CIFAR100_STD = tuple(v / 255 for v in (68.2, 65.4, 70.4))

CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer',
                   'dog', 'frog', 'horse', 'ship', 'truck')
CIFAR100_CLASSES = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly
camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower
leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid
otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray
road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar
sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe
whale willow_tree wolf woman worm""".split())
assert len(CIFAR100_CLASSES) == 100

_PIXELS = 3 * 32 * 32

# per dataset: folder names and file names of the pickled (py) and binary (bin) layouts per split,
# label bytes per binary record, the label key of the pickled dicts, classes and normalisation
_SPECS = {
    'cifar10': dict(
        pretty='CIFAR-10', py_dir='cifar-10-batches-py', bin_dir='cifar-10-batches-bin',
        py_files={'train': [f'data_batch_{i}' for i in range(1, 6)], 'test': ['test_batch']},
        bin_files={'train': [f'data_batch_{i}.bin' for i in range(1, 6)], 'test': ['test_batch.bin']},
        label_bytes=1, label_key='labels', classes=CIFAR10_CLASSES,
        mean=CIFAR10_MEAN, std=CIFAR10_STD),
    'cifar100': dict(
        pretty='CIFAR-100', py_dir='cifar-100-python', bin_dir='cifar-100-binary',
        py_files={'train': ['train'], 'test': ['test']},
        bin_files={'train': ['train.bin'], 'test': ['test.bin']},
        label_bytes=2, label_key='fine_labels', classes=CIFAR100_CLASSES,
        mean=CIFAR100_MEAN, std=CIFAR100_STD),
}
_SPLIT_RE = {'train': re.compile(r'(?<![a-z])train'), 'test': re.compile(r'(?<![a-z])test')}


class ImageTensorDataset(TensorDataset):
    """A :class:`~torch.utils.data.TensorDataset` of ``(image, label)`` with provenance.

    ``tensors == (images, labels)``: normalised float images ``(N, C, H, W)`` and int64 labels.
    Extra attributes: ``classes``, ``mean``/``std`` (the normalisation), ``fill`` (per-channel value
    of a black pixel after normalisation, used to pad crops), ``description`` (human readable) and
    ``source`` (the files read, or ``None``).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, classes: Sequence[str],
                 mean: Sequence[float], std: Sequence[float], description: str,
                 source: Sequence[Path] | None = None, name: str = ''):
        super().__init__(images, labels)
        self.classes = tuple(classes)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.fill = tuple(-m / s for m, s in zip(self.mean, self.std))
        self.description = description
        self.source = tuple(source) if source is not None else None
        self.name = name

    @property
    def images(self) -> torch.Tensor:
        return self.tensors[0]

    @property
    def labels(self) -> torch.Tensor:
        return self.tensors[1]

    @property
    def targets(self) -> list[int]:
        """Labels as a list, like torchvision datasets."""
        return self.tensors[1].tolist()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def denormalize(self, images: torch.Tensor | None = None) -> torch.Tensor:
        """Images back in ``[0, 1]`` (all of them when ``images`` is None)."""
        x = self.images if images is None else images
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return x * std + mean

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.description})'


# --------------------------------------------------------------------------------------------
# low-level readers


def _read_binary(path: Path, label_bytes: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Records of ``label_bytes`` label byte(s) + 3072 pixels -> (uint8 (N,3072), int64 labels)."""
    record = label_bytes + _PIXELS
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f'{path} is empty: expected CIFAR binary records of {record} bytes')
    n, rest = divmod(size, record)
    if rest:
        raise ValueError(
            f'{path} is truncated or not in the expected layout: {size} bytes is not a multiple of '
            f'the record size {record} ({label_bytes} label byte(s) + {_PIXELS} pixel bytes); '
            f'{n} full records and {rest} extra bytes')
    if limit is not None:
        n = min(n, limit)
    arr = np.fromfile(path, dtype=np.uint8, count=n * record).reshape(n, record)
    return arr[:, label_bytes:], arr[:, label_bytes - 1].astype(np.int64)  # last label byte = fine


def _read_pickle(path: Path, label_key: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A torchvision/official pickled batch (dict with ``data`` and ``labels``/``fine_labels``)."""
    try:
        with open(path, 'rb') as f:
            entry = pickle.load(f, encoding='bytes')
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise ValueError(f'{path} is not a readable CIFAR pickled batch (truncated or corrupt?): {e}') from e
    if not isinstance(entry, dict):
        raise ValueError(f'{path}: expected a pickled dict with data and labels, got {type(entry).__name__}')
    entry = {(k.decode('latin1') if isinstance(k, bytes) else k): v for k, v in entry.items()}
    keys = [label_key] + (['labels'] if label_key != 'labels' else ['fine_labels'])
    label_key_found = next((k for k in keys if k in entry), None)
    if 'data' not in entry or label_key_found is None:
        raise ValueError(f'{path}: pickled batch lacks the keys data/{label_key} (has {sorted(entry)})')
    data = np.asarray(entry['data'], dtype=np.uint8)
    labels = np.asarray(entry[label_key_found], dtype=np.int64).reshape(-1)
    if data.size % _PIXELS:
        raise ValueError(f'{path}: {data.size} pixel bytes is not a multiple of {_PIXELS} (truncated?)')
    data = data.reshape(-1, _PIXELS)
    if len(data) != len(labels):
        raise ValueError(f'{path}: {len(data)} images but {len(labels)} labels')
    if len(data) == 0:
        raise ValueError(f'{path} holds no images')
    if limit is not None:
        data, labels = data[:limit], labels[:limit]
    return data, labels


# --------------------------------------------------------------------------------------------
# layout resolution


def _is_cifar100_name(name: str) -> bool:
    return bool(re.search(r'cifar[-_]?100', name.lower()))


def _is_cifar10_name(name: str) -> bool:
    return bool(re.search(r'cifar[-_]?10(?!\d)', name.lower()))


def _find_in_dir(d: Path, spec: dict, split: str) -> tuple[list[Path], str, str] | None:
    """Files for ``split`` directly in folder ``d``: (files, 'pickle'|'binary', layout name)."""
    # torchvision / official pickled batches directly in d
    py = [d / n for n in spec['py_files'][split] if (d / n).is_file()]
    if py:
        return py, 'pickle', f"{spec['py_dir']} (pickled)"
    # official binary batches directly in d
    bn = [d / n for n in spec['bin_files'][split] if (d / n).is_file()]
    if bn:
        return bn, 'binary', f"{spec['bin_dir']} (binary)"
    # generic *train*.bin / *test*.bin files
    # (skipping files named for the other dataset, e.g. cifar100_train.bin when loading CIFAR-10)
    other_name = _is_cifar10_name if spec is _SPECS['cifar100'] else _is_cifar100_name
    cands = [p for p in sorted(d.glob('*.bin'))
             if p.is_file() and _SPLIT_RE[split].search(p.name.lower()) and not other_name(p.name)]
    if len(cands) > 1:
        raise ValueError(
            f'{d} holds several {split} .bin files ({", ".join(p.name for p in cands)}); '
            'pass the path of the one to use')
    if cands:
        return cands, 'binary', 'single binary file'
    return None


def _resolve(root: Path, dataset: str, split: str) -> tuple[list[Path], str, str]:
    spec = _SPECS[dataset]
    if root.is_file():
        fmt = 'binary' if root.suffix.lower() == '.bin' else 'pickle'
        return [root], fmt, 'single binary file' if fmt == 'binary' else 'single pickled batch'
    if root.is_dir():
        for sub in (spec['py_dir'], spec['bin_dir']):
            if (root / sub).is_dir():
                found = _find_in_dir(root / sub, spec, split)
                if found:
                    return found
        found = _find_in_dir(root, spec, split)
        if found:
            return found
    py_names = ', '.join(spec['py_files'][split])
    bin_names = ', '.join(spec['bin_files'][split])
    looked = (
        f"torchvision's folder {spec['py_dir']}/ ({py_names}); the binary folder {spec['bin_dir']}/ "
        f"({bin_names}); those files directly in the folder; a *{split}*.bin file (like "
        f"cifar10_{split}_10k.bin); or a path to a single .bin / pickled batch file")
    why = 'does not exist' if not root.exists() else 'holds none of the expected files'
    hint = ''
    other = 'cifar100' if dataset == 'cifar10' else 'cifar10'
    if root.is_dir() and any((root / _SPECS[other][k]).is_dir() for k in ('py_dir', 'bin_dir')):
        hint = f" (it has {_SPECS[other]['pretty']} data: did you mean dataset='{other}'?)"
    raise FileNotFoundError(
        f"No {spec['pretty']} {split} data found: path '{root}' {why}{hint}. Looked for {looked}. "
        'Nothing is downloaded: put the CIFAR files there or pass the folder/file that holds them.')


def load_cifar(root: PathLike, dataset: str = 'cifar10', split: str = 'train',
               limit: int | None = None) -> ImageTensorDataset:
    """Load CIFAR-10/100 ``split`` from the local ``root`` (folder or file) as normalised tensors.

    ``limit`` keeps only the first ``limit`` images.  Raises :class:`FileNotFoundError` when no
    known layout is found (nothing is ever downloaded) and :class:`ValueError` on truncated or
    malformed files.
    """
    dataset = str(dataset).lower().replace('-', '')
    if dataset not in _SPECS:
        raise ValueError(f"dataset must be 'cifar10' or 'cifar100', got {dataset!r}")
    if split not in ('train', 'test'):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and limit <= 0:
        raise ValueError(f'limit must be positive, got {limit}')
    spec = _SPECS[dataset]
    root = Path(os.path.expanduser(os.fspath(root)))
    files, fmt, layout = _resolve(root, dataset, split)
    expected = len(spec['py_files'][split])
    if not layout.startswith('single') and len(files) < expected:
        warnings.warn(f'{files[0].parent}: only {len(files)} of the {expected} official {split} '
                      f"batches are present ({', '.join(p.name for p in files)}); loading those")

    datas, labels, left = [], [], limit
    for path in files:
        if fmt == 'binary':
            d, l = _read_binary(path, spec['label_bytes'], left)
        else:
            d, l = _read_pickle(path, spec['label_key'], left)
        datas.append(d)
        labels.append(l)
        if left is not None:
            left -= len(d)
            if left <= 0:
                break
    data = datas[0] if len(datas) == 1 else np.concatenate(datas)
    label = labels[0] if len(labels) == 1 else np.concatenate(labels)
    n_cls = len(spec['classes'])
    if label.size and (label.min() < 0 or label.max() >= n_cls):
        raise ValueError(
            f'{", ".join(map(str, files))}: labels outside 0..{n_cls - 1} (max {label.max()}); '
            f"is this really {spec['pretty']} data (dataset={dataset!r})?")

    # (u8 / 255 - mean) / std  ==  u8 * scale + bias, in two in-place passes
    x = torch.from_numpy(data.astype(np.float32)).view(-1, 3, 32, 32)
    mean = torch.tensor(spec['mean'], dtype=torch.float64)
    std = torch.tensor(spec['std'], dtype=torch.float64)
    x.mul_((1.0 / (255.0 * std)).to(torch.float32).view(1, 3, 1, 1))
    x.add_((-mean / std).to(torch.float32).view(1, 3, 1, 1))
    y = torch.from_numpy(np.ascontiguousarray(label))
    where = str(files[0]) if len(files) == 1 else f'{len(files)} files in {files[0].parent}'
    desc = f"{spec['pretty']} {split}, {len(y)} images from {where} ({layout})"
    return ImageTensorDataset(x, y, classes=spec['classes'], mean=spec['mean'], std=spec['std'],
                              description=desc, source=files, name=dataset)


# --------------------------------------------------------------------------------------------
# augmentation and loaders


def augment_batch(x: torch.Tensor, generator: torch.Generator | None = None, padding: int = 4,
                  fill: float | Sequence[float] = 0.0, flip: bool = True) -> torch.Tensor:
    """Random crop (same size, ``padding`` pixels of ``fill`` around) + horizontal flip, per image.

    ``x`` is a batch ``(N, C, H, W)``; ``fill`` is a scalar or per-channel value (use a dataset's
    ``fill`` so padding is black in normalised units).  Draws all randomness from ``generator``.
    """
    if x.dim() != 4:
        raise ValueError(f'augment_batch expects (N, C, H, W), got shape {tuple(x.shape)}')
    n, c, h, w = x.shape
    if n == 0:
        return x.clone()
    gen_dev = generator.device if generator is not None else torch.device('cpu')
    out = x
    if padding > 0:
        fill_t = torch.as_tensor(fill, dtype=x.dtype, device=x.device).reshape(-1)
        if fill_t.numel() not in (1, c):
            raise ValueError(f'fill needs 1 or {c} values, got {fill_t.numel()}')
        fill_t = fill_t.view(1, -1, 1, 1)
        padded = F.pad(x - fill_t, (padding, padding, padding, padding)) + fill_t
        oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gen_dev).to(x.device)
        ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gen_dev).to(x.device)
        windows = padded.unfold(2, h, 1).unfold(3, w, 1)  # (n, c, 2p+1, 2p+1, h, w), a view
        out = windows[torch.arange(n, device=x.device), :, oy, ox]  # (n, c, h, w)
    if flip:
        mask = (torch.rand(n, generator=generator, device=gen_dev) < 0.5).to(x.device)
        out = torch.where(mask.view(n, 1, 1, 1), out.flip(-1), out)
    return out if out is not x else x.clone()


class _AugmentCollate:
    """Collate then :func:`augment_batch`; seeded in the main process and per worker."""

    def __init__(self, seed: int, fill, padding: int = 4):
        self.seed = int(seed)
        self.fill = fill
        self.padding = padding
        self._gen: torch.Generator | None = None
        self._owner = None

    def __call__(self, samples):
        x, y = default_collate(samples)
        info = get_worker_info()
        owner = (os.getpid(), None if info is None else info.seed)
        if self._gen is None or self._owner != owner:
            # main process: the loader's seed; worker: its seed, derived from the loader's generator
            seed = self.seed if info is None else info.seed
            self._gen = torch.Generator().manual_seed(seed % (2 ** 63))
            self._owner = owner
        return augment_batch(x, self._gen, self.padding, self.fill), y


def make_loader(dataset, batch_size: int = 64, shuffle: bool = True, seed: int = 0,
                num_workers: int = 0, augment: bool = False, drop_last: bool = False) -> DataLoader:
    """A seeded :class:`DataLoader` (order and augmentation reproducible for a given ``seed``).

    With ``augment=True`` each batch gets :func:`augment_batch` (crop 32 pad 4 + flip), padding
    with the dataset's ``fill`` when it has one.
    """
    if batch_size <= 0:
        raise ValueError(f'batch_size must be positive, got {batch_size}')
    gen = torch.Generator().manual_seed(int(seed))
    collate = _AugmentCollate(seed, getattr(dataset, 'fill', 0.0)) if augment else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=gen,
                      num_workers=num_workers, collate_fn=collate, drop_last=drop_last)


def cifar_loader(root: PathLike, dataset: str = 'cifar10', split: str = 'train', batch_size: int = 64,
                 shuffle: bool = True, seed: int = 0, num_workers: int = 0, augment: bool = False,
                 drop_last: bool = False, limit: int | None = None) -> DataLoader:
    """:func:`load_cifar` wrapped in a seeded :func:`make_loader`."""
    ds = load_cifar(root, dataset, split, limit=limit)
    return make_loader(ds, batch_size, shuffle, seed, num_workers, augment, drop_last)
