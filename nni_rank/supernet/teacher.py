"""The RD-NAS teacher: a zero-cost proxy score per NB201 cell, computed once and cached by arch string.

``flops`` and ``params`` are analytic (:func:`~nni_rank.spaces.nb201_net.nb201_flops`, free); any
other proxy of :mod:`nni_rank.proxies` (``synflow`` by default) is computed on a freshly initialised
standalone network of the supernet's size, on one seeded minibatch, with torch's RNG forked so
training randomness is untouched.  With ``store=True`` scores come from
:class:`nni_rank.proxies.store.ProxyStore` instead (full-size NB201 networks, on-disk cache); with
``table=PATH`` from a proxy table (``arch_str`` plus one column per proxy, e.g. the output of
``nni-rank proxies --space nb201 --all`` or NAS-Bench-Suite-Zero's CSV): full-size scores at no cost.
Scores are signed so that higher always means "predicted better"; NaN means undefined.
"""
from __future__ import annotations

import math

import torch

from ..spaces.nb201 import NB201Arch

__all__ = ['ProxyTeacher', 'FREE_PROXIES']

FREE_PROXIES = ('flops', 'params')


class ProxyTeacher:
    """Cached zero-cost proxy scores (higher = better) of NB201 cells.

    Parameters
    ----------
    proxy
        A proxy name of :func:`nni_rank.proxies.available_proxies` (``synflow``, ``flops``, ``params``,
        ``naswot``, ...).
    batch
        ``(x, y)`` minibatch for proxies that need data; without it, inputs are ``3 x input_size^2``.
    num_classes, channels, cells_per_stage
        Size of the scored networks (the supernet's).
    store
        Use :class:`~nni_rank.proxies.store.ProxyStore` (``store_options`` passed on) instead.
    table
        Read scores from this proxy table (:class:`~nni_rank.predictors.encoding.ProxyTable`) instead;
        cells it lacks score NaN (their pairs get no ranking term).
    """

    def __init__(self, proxy: str = 'synflow', batch=None, num_classes: int = 10, channels: int = 16,
                 cells_per_stage: int = 1, seed: int = 0, device: str = 'cpu', store: bool = False,
                 input_size: int = 32, table: str | None = None, **store_options):
        from ..proxies import PROXIES, resolve_names
        self.proxy = resolve_names([proxy])[0]
        self.sign = 1.0 if PROXIES[self.proxy].higher_is_better else -1.0
        self.batch, self.num_classes, self.channels = batch, num_classes, channels
        self.cells_per_stage, self.seed, self.device = cells_per_stage, seed, device
        if store and table:
            raise ValueError('give either store=True or table=PATH, not both')
        if batch is None and not store and not table and PROXIES[self.proxy].data_dependent:
            raise ValueError(f'proxy {self.proxy!r} needs a minibatch (batch=(x, y))')
        self.input_size = int(batch[0].shape[-1]) if batch is not None else int(input_size)
        self._store = self._table = None
        if table:
            from ..predictors.encoding import ProxyTable
            self._table = ProxyTable(table, [self.proxy], exact=True)
        if store:
            from ..proxies.store import ProxyStore
            self._store = ProxyStore([self.proxy], seed=seed, **store_options)
        self.cache: dict[str, float] = {}

    def score(self, arch) -> float:
        """Signed proxy score of ``arch`` (cached)."""
        key = NB201Arch.parse(arch).to_str()
        value = self.cache.get(key)
        if value is None:
            value = self.cache[key] = self.sign * self._compute(key)
        return value

    def _compute(self, arch_str: str) -> float:
        if self._table is not None:
            return float(self._table.scores([arch_str])[0, 0])
        if self._store is not None:
            return float(self._store.scores([arch_str])[0, 0])
        from ..spaces.nb201_net import nb201_flops
        if self.proxy in FREE_PROXIES:
            flops, params = nb201_flops(arch_str, self.num_classes, self.input_size, channels=self.channels,
                                        cells_per_stage=self.cells_per_stage)
            return flops if self.proxy == 'flops' else params
        from ..proxies import compute_proxies
        from ..spaces.nb201_net import build_nb201
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = build_nb201(arch_str, self.num_classes, self.channels, self.cells_per_stage)
        value = compute_proxies(net, self.batch, [self.proxy], seed=self.seed, device=self.device, warn=False,
                                input_shape=None if self.batch is not None else (3, self.input_size, self.input_size))
        return float(value[self.proxy])

    def prefers(self, a, b) -> int:
        """+1 when the teacher ranks ``a`` above ``b``, -1 below, 0 on a tie or an undefined score."""
        sa, sb = self.score(a), self.score(b)
        if not (math.isfinite(sa) and math.isfinite(sb)) or sa == sb:
            return 0
        return 1 if sa > sb else -1

    def state_dict(self) -> dict:
        return {'proxy': self.proxy, 'cache': dict(self.cache)}

    def load_state_dict(self, state: dict) -> None:
        if state.get('proxy') != self.proxy:
            return  # another teacher: its scores do not apply
        self.cache.update({k: float(v) for k, v in state['cache'].items()})
