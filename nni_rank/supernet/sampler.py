"""Subnet samplers for supernet training: uniform single paths (SPOS) and RD-NAS's margin sampler.

Group distance (RD-NAS): candidate ops fall in groups (by default the parametric convolutions and the
parameter-free ``skip_connect`` / ``avg_pool_3x3`` / ``none``).  Between two cells, each edge adds 0
when both use the same op, ``same_group`` (0.5) when the ops differ within a group and ``other_group``
(2) otherwise.  :class:`MarginSampler` draws a first cell uniformly and redraws the second until their
distance reaches ``margin`` (6.7 on NB201: about the mean distance of two uniform 4-op cells), so the
teacher is asked to order cells that really differ.

:class:`ScoreGroupSampler` is the other reading of "groups": cells are binned into ``num_groups``
quantile groups of their teacher score (bins from a seeded pool of uniform cells) and the second cell
is redrawn until it falls in another group; the distance is then the difference of group indices.

Samplers take ``random.Random`` seeds and expose ``state_dict`` / ``load_state_dict`` for checkpoints.
"""
from __future__ import annotations

import bisect
import math
import random
from typing import Callable, Hashable, Mapping, Sequence

from ..spaces.nb201 import EDGES, OPS, NB201Arch

__all__ = ['TRAIN_OPS', 'DEFAULT_GROUPS', 'group_distance', 'UniformSampler', 'MarginSampler', 'ScoreGroupSampler']

#: The four ops of the RD-NAS / SPOS NB201 supernet (no ``none``).
TRAIN_OPS: tuple[str, ...] = ('skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3')
#: op -> group: convolutions against parameter-free ops.
DEFAULT_GROUPS: dict[str, str] = {'nor_conv_1x1': 'conv', 'nor_conv_3x3': 'conv', 'skip_connect': 'free',
                                  'avg_pool_3x3': 'free', 'none': 'free'}


def group_distance(a: Sequence[Hashable], b: Sequence[Hashable], groups: Mapping[Hashable, Hashable] | None = None,
                   same_group: float = 0.5, other_group: float = 2.0) -> float:
    """Sum over positions of 0 (same op), ``same_group`` (same group) or ``other_group`` (different group).

    ``a`` and ``b`` are op sequences (an :class:`NB201Arch` or its ``ops``); ops missing from
    ``groups`` form a group of their own.
    """
    a = a.ops if isinstance(a, NB201Arch) else tuple(a)
    b = b.ops if isinstance(b, NB201Arch) else tuple(b)
    if len(a) != len(b):
        raise ValueError(f'cannot compare cells of {len(a)} and {len(b)} positions')
    groups = DEFAULT_GROUPS if groups is None else groups
    dist = 0.0
    for x, y in zip(a, b):
        if x != y:
            dist += same_group if groups.get(x, x) == groups.get(y, y) else other_group
    return dist


def _check_ops(ops: Sequence[str]) -> tuple[str, ...]:
    ops = tuple(NB201Arch((op,) * len(EDGES)).ops[0] for op in ops)  # validates / normalises names
    if not ops or len(set(ops)) != len(ops):
        raise ValueError(f'ops must be distinct NAS-Bench-201 ops from {OPS}, got {ops}')
    return ops


class UniformSampler:
    """Uniform NB201 cells over ``ops`` (the SPOS path sampler)."""

    def __init__(self, ops: Sequence[str] = TRAIN_OPS, seed: int = 0):
        self.ops = _check_ops(ops)
        self.rng = random.Random(seed)

    def sample(self) -> NB201Arch:
        return NB201Arch(tuple(self.rng.choice(self.ops) for _ in EDGES))

    def state_dict(self) -> dict:
        return {'rng': _rng_state(self.rng)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(_rng_restore(state['rng']))


class MarginSampler(UniformSampler):
    """Pairs of cells at group distance >= ``margin`` (RD-NAS's margin subnet sampler).

    :meth:`sample_pair` returns ``(a, b, distance)``; after ``max_tries`` redraws it keeps the
    farthest second cell seen (the margin may be unreachable for a given first cell, e.g. with
    ``margin`` above 12 on NB201).
    """

    def __init__(self, ops: Sequence[str] = TRAIN_OPS, margin: float = 6.7, seed: int = 0,
                 groups: Mapping[str, str] | None = None, same_group: float = 0.5, other_group: float = 2.0,
                 max_tries: int = 100):
        super().__init__(ops, seed)
        if margin < 0:
            raise ValueError(f'margin must be >= 0, got {margin}')
        if max_tries < 1:
            raise ValueError(f'max_tries must be >= 1, got {max_tries}')
        self.margin, self.max_tries = float(margin), int(max_tries)
        self.groups = dict(DEFAULT_GROUPS if groups is None else groups)
        self.same_group, self.other_group = float(same_group), float(other_group)

    def distance(self, a: NB201Arch, b: NB201Arch) -> float:
        return group_distance(a, b, self.groups, self.same_group, self.other_group)

    @property
    def max_distance(self) -> float:
        return len(EDGES) * max(self.same_group, self.other_group)

    def sample_pair(self) -> tuple[NB201Arch, NB201Arch, float]:
        a = self.sample()
        best, best_d = None, -1.0
        for _ in range(self.max_tries):
            b = self.sample()
            d = self.distance(a, b)
            if d > best_d:
                best, best_d = b, d
            if d >= self.margin:
                break
        return a, best, best_d


class ScoreGroupSampler(UniformSampler):
    """Pairs of cells whose teacher scores fall in different quantile groups.

    ``score(arch) -> float`` (higher = better, NaN = unknown) is evaluated on ``pool_size`` uniform
    cells to set the ``num_groups - 1`` quantile boundaries.  :meth:`sample_pair` returns
    ``(a, b, |group(a) - group(b)|)``, the second cell redrawn until the groups differ (at most
    ``max_tries`` times; then the gap may be 0).
    """

    def __init__(self, score: Callable[[NB201Arch], float], num_groups: int = 4, ops: Sequence[str] = TRAIN_OPS,
                 pool_size: int = 256, seed: int = 0, max_tries: int = 100):
        super().__init__(ops, seed)
        if num_groups < 2:
            raise ValueError(f'num_groups must be >= 2, got {num_groups}')
        if pool_size < num_groups:
            raise ValueError(f'pool_size ({pool_size}) must be at least num_groups ({num_groups})')
        self.score, self.num_groups, self.max_tries = score, int(num_groups), int(max_tries)
        values = sorted(v for v in (score(self.sample()) for _ in range(pool_size)) if math.isfinite(v))
        if len(values) < num_groups:
            raise ValueError(f'only {len(values)} of {pool_size} pool cells have a finite teacher score')
        self.boundaries = [values[len(values) * k // num_groups] for k in range(1, num_groups)]

    @property
    def max_distance(self) -> float:
        return float(self.num_groups - 1)

    def group(self, arch: NB201Arch) -> int | None:
        """Quantile group (0 = lowest scores) of ``arch``; None when its score is undefined."""
        value = self.score(arch)
        return bisect.bisect_right(self.boundaries, value) if math.isfinite(value) else None

    def sample_pair(self) -> tuple[NB201Arch, NB201Arch, float]:
        for _ in range(self.max_tries):
            a = self.sample()
            ga = self.group(a)
            if ga is not None:
                break
        b, gap = a, 0
        for _ in range(self.max_tries):
            b = self.sample()
            gb = self.group(b)
            if gb is not None and ga is not None and gb != ga:
                gap = abs(gb - ga)
                break
        return a, b, float(gap)


def _rng_state(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_restore(state) -> tuple:
    version, internal, gauss = state
    return int(version), tuple(int(v) for v in internal), gauss
