"""NAS-Bench-201 cell: conversions between every representation users meet.

A cell is a DAG over 4 nodes with 6 edges ``i -> j`` (``i < j``), each carrying one of 5 ops.
Representations handled here (all lossless):

* the official architecture string ``|nor_conv_3x3~0|+|...|+|...|`` (:meth:`NB201Arch.from_str`);
* NNI's ``NasBench201`` sample dict ``{'cell/0_1': 'conv_3x3', ...}`` (:meth:`NB201Arch.from_sample`);
* an op-index list, one integer per edge in :data:`EDGES` order (:meth:`NB201Arch.from_indices`);
* a 4x4 adjacency matrix holding op ids, ``-1`` where there is no edge (:meth:`NB201Arch.adjacency`);
* the benchmark index, through a table that lists the official strings (:class:`NB201Index`).

Canonicalisation (:meth:`NB201Arch.canonical`) is opt-in: it maps functionally equivalent cells
(dead edges, the swap of nodes 1 and 2 when they are not connected) to one representative.
:meth:`NB201Arch.function_key` merges more (skip chains collapse too): the identity of the function a
cell computes, by which ``nni-rank proxies --all`` scores each distinct network once.
"""
from __future__ import annotations

import itertools
import numbers
import operator
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

#: Official NAS-Bench-201 op names, in the benchmark's op-index order.
OPS: tuple[str, ...] = ('none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3')
#: Names NNI's ``NasBench201`` space uses for the same ops (same order).
NNI_OPS: tuple[str, ...] = ('none', 'skip_connect', 'conv_1x1', 'conv_3x3', 'avg_pool_3x3')
#: Edges ``(src, dst)`` in the order of the architecture string and of NNI's labels.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
#: Edge labels as NNI writes them (without the ``cell/`` scope).
EDGE_LABELS: tuple[str, ...] = tuple(f'{i}_{j}' for i, j in EDGES)
NUM_NODES = 4
NUM_ARCHS = len(OPS) ** len(EDGES)  # 15,625

_NNI_TO_OFFICIAL = dict(zip(NNI_OPS, OPS))
_OFFICIAL_TO_NNI = dict(zip(OPS, NNI_OPS))
_OP_ID = {op: i for i, op in enumerate(OPS)}
_STR_RE = re.compile(r'^\|([^|]+~\d)\|\+\|([^|]+~\d)\|([^|]+~\d)\|\+\|([^|]+~\d)\|([^|]+~\d)\|([^|]+~\d)\|$')
_PARAMETRIC = {'nor_conv_1x1', 'nor_conv_3x3'}


class InvalidArchitecture(ValueError):
    """Raised for an architecture that is not a valid NAS-Bench-201 cell."""


def as_index(value: object, size: int) -> int | None:
    """``value`` as an integer in ``0..size-1`` (ints, numpy integers and integral floats such as ``3.0``),
    else None (bools, other floats, strings, out of range)."""
    try:
        index = operator.index(value)  # int, numpy integers (bools are refused below)
    except TypeError:
        index = int(value) if isinstance(value, numbers.Real) and float(value).is_integer() else None
    return None if index is None or isinstance(value, bool) or not 0 <= index < size else index


def _normalise_op(op: str) -> str:
    """Accept both official and NNI op names; return the official one."""
    if op in _OP_ID:
        return op
    if op in _NNI_TO_OFFICIAL:
        return _NNI_TO_OFFICIAL[op]
    raise InvalidArchitecture(f'unknown NAS-Bench-201 op {op!r}; expected one of {OPS} (or NNI names {NNI_OPS})')


@dataclass(frozen=True, order=True)
class NB201Arch:
    """One NAS-Bench-201 cell as the tuple of its 6 official op names, in :data:`EDGES` order."""

    ops: tuple[str, ...]

    def __post_init__(self):
        if len(self.ops) != len(EDGES):
            raise InvalidArchitecture(f'a NAS-Bench-201 cell has {len(EDGES)} edges, got {len(self.ops)} ops')
        object.__setattr__(self, 'ops', tuple(_normalise_op(op) for op in self.ops))

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_str(cls, arch_str: str) -> 'NB201Arch':
        """Parse the official string, e.g. ``|nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|``."""
        match = _STR_RE.match(arch_str.strip()) if isinstance(arch_str, str) else None
        if match is None:
            raise InvalidArchitecture(
                f'not a NAS-Bench-201 architecture string: {arch_str!r} '
                "(expected '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|')")
        ops = []
        for token, (src, _) in zip(match.groups(), EDGES):
            op, node = token.rsplit('~', 1)
            if int(node) != src:
                raise InvalidArchitecture(f'edge {token!r} in {arch_str!r} should read from node {src}')
            ops.append(op)
        return cls(tuple(ops))

    @classmethod
    def from_sample(cls, sample: Mapping[str, str]) -> 'NB201Arch':
        """From an NNI sample dict; labels may carry any scope (``cell/0_1`` or ``0_1``)."""
        by_edge = {}
        for label, op in sample.items():
            edge = label.rsplit('/', 1)[-1]
            if edge in EDGE_LABELS:
                by_edge[edge] = op
        missing = [e for e in EDGE_LABELS if e not in by_edge]
        if missing:
            raise InvalidArchitecture(f'sample {dict(sample)} lacks NAS-Bench-201 edges {missing}')
        return cls(tuple(by_edge[e] for e in EDGE_LABELS))

    @classmethod
    def from_indices(cls, indices: Sequence[int]) -> 'NB201Arch':
        """From 6 op ids (integers in 0..4, positions in :data:`OPS`), one per edge in :data:`EDGES` order."""
        try:
            indices = list(indices)
        except TypeError:
            raise InvalidArchitecture(f'cannot read a NAS-Bench-201 cell from {indices!r}') from None
        if len(indices) != len(EDGES):
            raise InvalidArchitecture(f'a NAS-Bench-201 cell has {len(EDGES)} edges, got {len(indices)} op ids')
        ids = [as_index(v, len(OPS)) for v in indices]
        if None in ids:
            k = ids.index(None)
            raise InvalidArchitecture(f'op id of edge {EDGE_LABELS[k]} (position {k}) must be an integer in '
                                      f'0..{len(OPS) - 1}, got {indices[k]!r}')
        return cls(tuple(OPS[i] for i in ids))

    @classmethod
    def parse(cls, arch: 'NB201Arch | str | Mapping[str, str] | Sequence[int]') -> 'NB201Arch':
        """Accept any supported representation."""
        if isinstance(arch, NB201Arch):
            return arch
        if isinstance(arch, str):
            return cls.from_str(arch)
        if isinstance(arch, Mapping):
            return cls.from_sample(arch)
        return cls.from_indices(arch)

    # ----------------------------------------------------------------- views
    def to_str(self) -> str:
        """The official architecture string."""
        nodes = [[f'{op}~{src}' for op, (src, dst) in zip(self.ops, EDGES) if dst == j] for j in (1, 2, 3)]
        return '+'.join('|' + '|'.join(node) + '|' for node in nodes)

    def __str__(self) -> str:
        return self.to_str()

    def to_sample(self, scope: str = 'cell') -> dict[str, str]:
        """NNI sample dict with NNI op names (``scope=''`` for bare ``0_1`` labels)."""
        prefix = f'{scope}/' if scope else ''
        return {prefix + e: _OFFICIAL_TO_NNI[op] for e, op in zip(EDGE_LABELS, self.ops)}

    def indices(self) -> tuple[int, ...]:
        """Op ids in :data:`EDGES` order."""
        return tuple(_OP_ID[op] for op in self.ops)

    def adjacency(self) -> list[list[int]]:
        """4x4 matrix: ``A[i][j]`` = op id on edge ``i -> j``, ``-1`` where no edge exists."""
        mat = [[-1] * NUM_NODES for _ in range(NUM_NODES)]
        for op, (i, j) in zip(self.ops, EDGES):
            mat[i][j] = _OP_ID[op]
        return mat

    def edge_op(self, src: int, dst: int) -> str:
        return self.ops[EDGES.index((src, dst))]

    # ----------------------------------------------------------------- structure
    def live_edges(self) -> tuple[bool, ...]:
        """Which edges lie on some path from the input (node 0) to the output (node 3)."""
        present = [op != 'none' for op in self.ops]
        reach_fwd = {0}
        for (i, j), on in zip(EDGES, present):  # EDGES is topologically ordered by dst
            if on and i in reach_fwd:
                reach_fwd.add(j)
        reach_bwd = {3}
        for (i, j), on in sorted(zip(EDGES, present), key=lambda t: -t[0][0]):
            if on and j in reach_bwd:
                reach_bwd.add(i)
        return tuple(on and i in reach_fwd and j in reach_bwd for (i, j), on in zip(EDGES, present))

    def is_connected(self) -> bool:
        """True when the output depends on the input (otherwise the cell outputs zeros)."""
        return any(self.live_edges())

    def num_parametric(self) -> int:
        """Number of convolution edges (live or not)."""
        return sum(op in _PARAMETRIC for op in self.ops)

    def canonical(self) -> 'NB201Arch':
        """A representative of the cell's equivalence class.

        Two rules, both exact for the network function: (1) edges that lie on no input-to-output path
        become ``none`` (a fully disconnected cell becomes all ``none``); (2) when nodes 1 and 2 are not
        connected (edge 1->2 is ``none``) they are interchangeable, and the lexicographically smaller
        of the two labelings is kept. Not applied anywhere by default.
        """
        live = self.live_edges()
        ops = [op if on else 'none' for op, on in zip(self.ops, live)]
        if ops[2] == 'none':  # edge 1->2 absent: swap roles of nodes 1 and 2
            swapped = [ops[1], ops[0], 'none', ops[3], ops[5], ops[4]]
            ops = min(ops, swapped, key=lambda o: [_OP_ID[x] for x in o])
        return NB201Arch(tuple(ops))

    def function_key(self) -> tuple:
        """Key of the function the cell computes, equal for cells whose networks are the same function up to
        the random draw of their weights (so their zero-cost proxies have the same distribution).

        The cell output is written as a sum of terms over its live edges: ``skip_connect`` passes its
        source's terms on, ``avg_pool_3x3`` and the convolutions wrap their source's sum. Term order is
        dropped (the sums commute, which covers the swap of nodes 1 and 2), dead edges never contribute and
        chains of skips collapse. A pooling of the same sum on two edges is one function (no weights), two
        convolution edges on the same sum are two terms (each has its own weights): one convolution reached
        twice through skips is counted as one term with coefficient 2. 4,960 classes over the 15,625 cells.
        """
        live = self.live_edges()
        sums: dict[int, Counter] = {0: Counter({('input',): 1})}
        for node in range(1, NUM_NODES):
            total: Counter = Counter()
            for k, ((src, dst), op) in enumerate(zip(EDGES, self.ops)):
                if dst != node or not live[k]:
                    continue
                if op == 'skip_connect':
                    total.update(sums[src])
                else:  # one term per convolution edge (own weights), one per pooled sum (no weights)
                    total[(op, _sum_key(sums[src])) + ((k,) if op in _PARAMETRIC else ())] += 1
            sums[node] = total
        return _sum_key(sums[NUM_NODES - 1])

    def op_counts(self) -> tuple[int, ...]:
        """How many edges carry each op of :data:`OPS` (live or not): the network's parameter count and MACs
        depend on nothing else, since every edge of a cell has the same channels."""
        return tuple(self.ops.count(op) for op in OPS)


def _sum_key(terms: Counter) -> tuple:
    """Order-free key of a sum of terms; a convolution's edge id (its last field) only told its terms apart."""
    return tuple(sorted(((t[:2] if len(t) == 3 else t), c) for t, c in terms.items()))


def all_archs() -> Iterator[NB201Arch]:
    """Every one of the 15,625 cells, in op-id lexicographic order (not benchmark-index order)."""
    for ids in itertools.product(range(len(OPS)), repeat=len(EDGES)):
        yield NB201Arch.from_indices(ids)


class NB201Index:
    """Bidirectional map between benchmark index and architecture, read from a benchmark table.

    NAS-Bench-201's index order is the benchmark's own, so it must come from a file: any
    :class:`~nni_rank.benchmarks.BenchmarkTable` for NB201 (CSV, official ``.pth`` or NNI database).
    """

    def __init__(self, arch_strs: Iterable[str]):
        self._archs = [NB201Arch.from_str(s) for s in arch_strs]
        self._index = {a: i for i, a in enumerate(self._archs)}
        if len(self._index) != len(self._archs):
            raise ValueError('duplicate architectures in the index table')

    def __len__(self) -> int:
        return len(self._archs)

    def arch(self, index: int) -> NB201Arch:
        if not 0 <= index < len(self._archs):
            raise IndexError(f'NAS-Bench-201 index {index} out of range 0..{len(self._archs) - 1}')
        return self._archs[index]

    def index(self, arch) -> int:
        arch = NB201Arch.parse(arch)
        try:
            return self._index[arch]
        except KeyError:
            raise KeyError(f'architecture {arch} is not in the index table') from None
