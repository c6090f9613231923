"""Program properties of NAS-Bench-201 cells (alpha-NAS's abstract space, adapted to a 4-node cell).

A cell is read as a small program: data flows from node 0 (input) to node 3 (output) along edges, each
edge applying one op. Over the *live* paths (made of edges that lie on some input-to-output path):

* **shape** -- ``reachable``: whether the output depends on the input at all (must match);
* **depth** -- ``depth_max`` / ``depth_min``: the largest / smallest number of convolutions (the
  parametric, non-linear ReLU-Conv-BN ops) on an input-to-output path (lower bounds);
* **mixing** -- ``spatial``: some path mixes neighbouring pixels (a 3x3 conv or 3x3 pool);
  ``channel``: some path mixes channels (any conv) (lower bounds, ``False < True``);
* **receptive field** -- ``receptive``: the most 3x3 ops (conv or pool) on one path (lower bound);
* **size** -- ``params_bucket`` / ``flops_bucket``: the network's parameters / FLOPs
  (:func:`~nni_rank.spaces.nb201_net.nb201_flops`, default NB201 skeleton) in equal-width buckets
  between the smallest and the largest network of the space (must match);
* ``pairs``: the same depth/receptive-field summary for every pair of live nodes ``(i, j)``, as
  ``(i, j, depth_max, depth_min, receptive)`` (lower bounds; a finer abstraction, off in the default key).

Example::

    >>> p = nb201_properties('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|'
    ...                      '+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|')
    >>> p.depth_max, p.depth_min, p.receptive, p.spatial, p.channel, p.reachable
    (3, 0, 3, True, True, True)
    >>> p.params_bucket, p.flops_bucket  # the largest of 4 buckets (five 3x3 convs)
    (3, 3)

A candidate *satisfies* a target when every lower-bound field is at least the target's and every
must-match field equals it (:func:`satisfies`); fields set to ``None`` in a target are free.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

import numpy as np

from ..spaces.nb201 import EDGES, OPS, NB201Arch, all_archs

__all__ = ['NB201Properties', 'PathSummary', 'nb201_properties', 'satisfies', 'property_distance',
           'path_summaries', 'PropertyTable', 'property_table', 'LOWER_BOUND_FIELDS', 'MATCH_FIELDS', 'NUM_BUCKETS']

#: Fields a candidate satisfies when at least as large as the target (depth, mixing, receptive field).
LOWER_BOUND_FIELDS = ('depth_max', 'depth_min', 'receptive', 'spatial', 'channel')
#: Fields a candidate must match exactly (shape and size).
MATCH_FIELDS = ('reachable', 'params_bucket', 'flops_bucket')
#: Default number of size buckets.
NUM_BUCKETS = 4

# per-op effect on a path: (convolutions, 3x3 ops)
_OP_EFFECT = {'skip_connect': (0, 0), 'nor_conv_1x1': (1, 0), 'nor_conv_3x3': (1, 1), 'avg_pool_3x3': (0, 1)}


@dataclass(frozen=True)
class PathSummary:
    """Joined properties of every path from node ``i`` to node ``j``."""

    depth_max: int
    depth_min: int
    receptive: int

    @property
    def spatial(self) -> bool:
        return self.receptive > 0

    @property
    def channel(self) -> bool:
        return self.depth_max > 0


def path_summaries(num_nodes: int, edges: Iterable[tuple[int, int, int, int]]) -> dict[tuple[int, int], PathSummary]:
    """Summaries for every connected pair ``(i, j)``, ``i < j``, of a DAG in topological node order.

    ``edges``: ``(src, dst, convolutions, 3x3 ops)`` for each edge (the op's effect on a path).
    """
    incoming: dict[int, list[tuple[int, int, int]]] = {j: [] for j in range(num_nodes)}
    for src, dst, conv, k3 in edges:
        if not 0 <= src < dst < num_nodes:
            raise ValueError(f'edge {src}->{dst} is not forward in a {num_nodes}-node DAG')
        incoming[dst].append((src, conv, k3))
    out: dict[tuple[int, int], PathSummary] = {}
    for s in range(num_nodes):
        best: dict[int, tuple[int, int, int]] = {s: (0, 0, 0)}
        for j in range(s + 1, num_nodes):
            cands = [(best[i][0] + c, best[i][1] + c, best[i][2] + k) for i, c, k in incoming[j] if i in best]
            if cands:
                best[j] = (max(c[0] for c in cands), min(c[1] for c in cands), max(c[2] for c in cands))
                out[(s, j)] = PathSummary(*best[j])
    return out


@dataclass(frozen=True)
class NB201Properties:
    """Abstract properties of one NB201 cell (see the module docstring); ``None`` fields are free in targets."""

    reachable: bool | None = None
    depth_max: int | None = None
    depth_min: int | None = None
    receptive: int | None = None
    spatial: bool | None = None
    channel: bool | None = None
    params_bucket: int | None = None
    flops_bucket: int | None = None
    pairs: tuple[tuple[int, int, int, int, int], ...] | None = None

    def key(self, pairs: bool = False) -> tuple:
        """Hashable vector of the properties: one point of the abstract space."""
        base = tuple(getattr(self, f) for f in MATCH_FIELDS + LOWER_BOUND_FIELDS)
        return base + (self.pairs,) if pairs else base

    def replace(self, **changes: Any) -> 'NB201Properties':
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@lru_cache(maxsize=None)
def _size_ranges(num_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    from ..spaces.nb201_net import nb201_flops
    lo_f, lo_p = nb201_flops(NB201Arch(('none',) * 6))
    hi_f, hi_p = nb201_flops(NB201Arch(('nor_conv_3x3',) * 6))
    return np.linspace(lo_p, hi_p, num_buckets + 1)[1:-1], np.linspace(lo_f, hi_f, num_buckets + 1)[1:-1]


def size_buckets(arch: NB201Arch, num_buckets: int = NUM_BUCKETS) -> tuple[int, int]:
    """``(params bucket, FLOPs bucket)`` of the network of ``arch`` (0 = smallest)."""
    from ..spaces.nb201_net import nb201_flops
    if num_buckets < 1:
        raise ValueError(f'num_buckets must be >= 1, got {num_buckets}')
    flops, params = nb201_flops(arch)
    p_edges, f_edges = _size_ranges(num_buckets)
    return int(np.searchsorted(p_edges, params, side='right')), int(np.searchsorted(f_edges, flops, side='right'))


def nb201_properties(arch: NB201Arch | str | Any, num_buckets: int = NUM_BUCKETS) -> NB201Properties:
    """Compute the properties of a cell (any form :meth:`NB201Arch.parse` reads)."""
    arch = NB201Arch.parse(arch)
    live = arch.live_edges()
    edges = [(i, j, *_OP_EFFECT[op]) for (i, j), op, on in zip(EDGES, arch.ops, live) if on]
    summaries = path_summaries(4, edges)
    io = summaries.get((0, 3))
    p_bucket, f_bucket = size_buckets(arch, num_buckets)
    pairs = tuple((i, j, s.depth_max, s.depth_min, s.receptive) for (i, j), s in sorted(summaries.items()))
    if io is None:
        return NB201Properties(False, 0, 0, 0, False, False, p_bucket, f_bucket, pairs)
    return NB201Properties(True, io.depth_max, io.depth_min, io.receptive, io.spatial, io.channel,
                           p_bucket, f_bucket, pairs)


def satisfies(candidate: NB201Properties, target: NB201Properties) -> bool:
    """True when ``candidate`` is at least as strong as ``target`` (lower bounds) and matches its shape/size."""
    for f in MATCH_FIELDS:
        want = getattr(target, f)
        if want is not None and getattr(candidate, f) != want:
            return False
    for f in LOWER_BOUND_FIELDS:
        want = getattr(target, f)
        if want is not None and getattr(candidate, f) < want:
            return False
    if target.pairs is not None:
        have = {(i, j): (a, b, c) for i, j, a, b, c in candidate.pairs or ()}
        for i, j, a, b, c in target.pairs:
            got = have.get((i, j))
            if got is None or got[0] < a or got[1] < b or got[2] < c:
                return False
    return True


def property_distance(candidate: NB201Properties, target: NB201Properties) -> int:
    """L1 distance over the fields the target constrains (how far a satisfying cell overshoots)."""
    return sum(abs(int(getattr(candidate, f)) - int(getattr(target, f)))
               for f in MATCH_FIELDS + LOWER_BOUND_FIELDS if getattr(target, f) is not None)


class PropertyTable:
    """Properties of all 15,625 cells as arrays, for vectorised satisfaction checks and synthesis.

    Row ``r`` is the cell with op ids ``digits(r)`` in base 5 (the order of :func:`all_archs`).
    """

    FIELDS = MATCH_FIELDS + LOWER_BOUND_FIELDS

    def __init__(self, num_buckets: int = NUM_BUCKETS):
        self.num_buckets = num_buckets
        self.archs: list[NB201Arch] = list(all_archs())
        self.props: list[NB201Properties] = [nb201_properties(a, num_buckets) for a in self.archs]
        self.op_ids = np.array([a.indices() for a in self.archs], dtype=np.int8)
        self.values = {f: np.array([int(getattr(p, f)) for p in self.props], dtype=np.int16) for f in self.FIELDS}
        pair_index = {pair: k for k, pair in enumerate((i, j) for i in range(4) for j in range(i + 1, 4))}
        self.pairs = np.full((len(self.archs), len(pair_index), 3), -1, dtype=np.int16)
        for r, p in enumerate(self.props):
            for i, j, a, b, c in p.pairs:
                self.pairs[r, pair_index[(i, j)]] = (a, b, c)
        self._pair_index = pair_index
        canon = [a.canonical() for a in self.archs]
        #: row of each cell's canonical form (isomorphic cells share it)
        self.canonical_row = np.array([self.row(c) for c in canon], dtype=np.int32)
        keys = [p.key() for p in self.props]
        ids = {k: i for i, k in enumerate(sorted(set(keys), key=str))}
        #: id of each cell's point in the abstract space (its property vector, without pairs)
        self.key_ids = np.array([ids[k] for k in keys], dtype=np.int32)

    def __len__(self) -> int:
        return len(self.archs)

    @staticmethod
    def row(arch: NB201Arch | Any) -> int:
        """Row of a cell in the table."""
        r = 0
        for i in NB201Arch.parse(arch).indices():
            r = r * len(OPS) + i
        return r

    def satisfying(self, target: NB201Properties) -> np.ndarray:
        """Boolean mask of the cells that satisfy ``target``."""
        mask = np.ones(len(self.archs), dtype=bool)
        for f in MATCH_FIELDS:
            want = getattr(target, f)
            if want is not None:
                mask &= self.values[f] == int(want)
        for f in LOWER_BOUND_FIELDS:
            want = getattr(target, f)
            if want is not None:
                mask &= self.values[f] >= int(want)
        for i, j, a, b, c in target.pairs or ():
            col = self.pairs[:, self._pair_index[(i, j)]]
            mask &= (col[:, 0] >= a) & (col[:, 1] >= b) & (col[:, 2] >= c) & (col[:, 0] >= 0)
        return mask

    def distance(self, target: NB201Properties) -> np.ndarray:
        """:func:`property_distance` of every cell to ``target``."""
        dist = np.zeros(len(self.archs), dtype=np.int32)
        for f in self.FIELDS:
            want = getattr(target, f)
            if want is not None:
                dist += np.abs(self.values[f] - int(want))
        return dist

    def abstract_space_size(self, pairs: bool = False) -> int:
        """Number of distinct property vectors over the whole space (``pairs``: with per-pair depth)."""
        return len({p.key(pairs) for p in self.props}) if pairs else int(self.key_ids.max()) + 1


@lru_cache(maxsize=4)
def property_table(num_buckets: int = NUM_BUCKETS) -> PropertyTable:
    """The (cached) :class:`PropertyTable` of the whole NB201 space (about 1 s to build)."""
    return PropertyTable(num_buckets)

