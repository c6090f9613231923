"""Backend over the official NAS-Bench-201 ``.pth`` file, read through ``nas_201_api``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Hashable, Sequence

from ..spaces.nb201 import NB201Arch
from .base import BenchmarkError, BenchmarkTable, TableError, checked_figure

#: NAS-Bench-201 dataset names and the split whose accuracy is reported as ``test_acc``/``valid_acc``.
OFFICIAL_DATASETS = ('cifar10-valid', 'cifar10', 'cifar100', 'ImageNet16-120')
_METRICS = ('test_acc', 'valid_acc', 'train_acc', 'params', 'flops', 'latency', 'train_time')


def _load_api(path: str | os.PathLike):
    try:
        from nas_201_api import NASBench201API
    except ImportError as err:  # pragma: no cover - declared in setup.py
        raise BenchmarkError('reading the official NAS-Bench-201 file needs the nas-bench-201 package') from err
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'NAS-Bench-201 file not found: {path} (nothing is downloaded; '
                                'pass the local NAS-Bench-201-v1_*.pth)')
    import torch
    try:  # torch >= 2.6 defaults to weights_only=True, which cannot unpickle the benchmark's dicts.
        return NASBench201API(torch.load(path, map_location='cpu', weights_only=False), verbose=False)
    except Exception as err:  # a torn or foreign file: unpickling and the API fail in many ways
        why = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise TableError(f'{path} is not a readable NAS-Bench-201 .pth file: {why}') from None


class NB201OfficialTable(BenchmarkTable):
    """NAS-Bench-201 through its official API, 200-epoch results averaged over seeds.

    ``dataset`` names follow the benchmark (``cifar10-valid``, ``cifar10``, ``cifar100``,
    ``ImageNet16-120``; ``imagenet16-120`` is accepted too). Pass ``api`` to reuse a loaded
    ``NASBench201API`` instead of a path.
    """

    space = 'nb201'

    def __init__(self, path: str | os.PathLike | None = None, api: Any = None, hp: str = '200'):
        if api is None:
            if path is None:
                raise BenchmarkError('give the path of the NAS-Bench-201 .pth file')
            api = _load_api(path)
        self.api, self.hp = api, hp
        self.source = str(path or 'NASBench201API')
        self._keys = [NB201Arch.from_str(s) for s in api.meta_archs]
        self._pos = {k: i for i, k in enumerate(self._keys)}
        if len(self._pos) != len(self._keys):
            raise TableError(f'{self.source} lists {len(self._keys) - len(self._pos)} architectures twice')
        self._cache: dict[tuple[int, str], dict[str, float]] = {}

    def datasets(self) -> list[str]:
        return list(OFFICIAL_DATASETS)

    def check_dataset(self, dataset: str) -> str:
        return super().check_dataset('ImageNet16-120' if dataset.lower() == 'imagenet16-120' else dataset)

    def metrics(self, dataset: str) -> list[str]:
        return list(_METRICS)

    def archs(self) -> Sequence[Hashable]:
        return self._keys

    def parse_arch(self, arch: Any) -> Hashable:
        return NB201Arch.parse(arch)

    def _key_set(self) -> set:
        return self._pos.keys()  # type: ignore[return-value]

    def _row(self, key: Hashable, dataset: str) -> dict[str, float]:
        dataset = self.check_dataset(dataset)
        index = self._pos[key]
        if (index, dataset) not in self._cache:
            info = self.api.get_more_info(index, dataset, hp=self.hp, is_random=False)
            cost = self.api.get_cost_info(index, dataset, hp=self.hp)
            raw = {'test_acc': info.get('test-accuracy', info.get('valtest-accuracy')),
                   'valid_acc': info.get('valid-accuracy'), 'train_acc': info.get('train-accuracy'),
                   'params': cost.get('params'), 'flops': cost.get('flops'), 'latency': cost.get('latency'),
                   'train_time': info.get('train-all-time')}
            where = f'{self.source}: {dataset} result of index {index}'
            self._cache[(index, dataset)] = {m: checked_figure(v, m, where) for m, v in raw.items()}
        return self._cache[(index, dataset)]
