"""Program properties of NAS-Bench-101 cells: the NB201 properties on the 7-vertex DAG.

Ops sit on vertices (``conv3x3-bn-relu``, ``conv1x1-bn-relu``, ``maxpool3x3``); a path from the input to
the output passes through them. On the pruned cell:

* ``reachable`` (shape, must match): a path leads from input to output;
* ``depth_max`` / ``depth_min``: most / fewest convolutions on an input-to-output path (lower bounds);
* ``receptive``: most 3x3 ops (conv3x3 or maxpool3x3) on a path (lower bound);
* ``spatial`` / ``channel``: some path has a 3x3 op / a convolution (lower bounds);
* ``width``: how many branches the output joins (its in-degree) (lower bound);
* ``params_bucket`` / ``flops_bucket`` (must match): ``floor(log2(millions))`` of the network's
  parameters / FLOPs, when given (e.g. the benchmark's columns) or measured (``measure=True`` builds
  the network with :func:`~nni_rank.spaces.nb101.build_nb101`); ``None`` otherwise.

Every cell of NB101 also applies a fixed 1x1 projection to the cell input on input edges; it adds the
same convolution to every path and is left out.

Example::

    >>> from nni_rank.spaces.nb101 import NB101Arch
    >>> cell = NB101Arch([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ('input', 'conv3x3-bn-relu', 'output'))
    >>> p = nb101_properties(cell)
    >>> p.depth_max, p.receptive, p.width
    (1, 1, 1)
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from ..spaces.nb101 import NB101Arch
from .nb201 import path_summaries

__all__ = ['NB101Properties', 'nb101_properties', 'satisfies_nb101']

_EFFECT = {'conv3x3-bn-relu': (1, 1), 'conv1x1-bn-relu': (1, 0), 'maxpool3x3': (0, 1), 'output': (0, 0)}
LOWER_BOUND_FIELDS = ('depth_max', 'depth_min', 'receptive', 'spatial', 'channel', 'width')
MATCH_FIELDS = ('reachable', 'params_bucket', 'flops_bucket')


@dataclass(frozen=True)
class NB101Properties:
    """Abstract properties of one NB101 cell; ``None`` fields are free in targets."""

    reachable: bool | None = None
    depth_max: int | None = None
    depth_min: int | None = None
    receptive: int | None = None
    spatial: bool | None = None
    channel: bool | None = None
    width: int | None = None
    params_bucket: int | None = None
    flops_bucket: int | None = None

    def key(self) -> tuple:
        return tuple(getattr(self, f) for f in MATCH_FIELDS + LOWER_BOUND_FIELDS)

    def replace(self, **changes: Any) -> 'NB101Properties':
        return dataclasses.replace(self, **changes)


def _bucket(value: float | None) -> int | None:
    if value is None:
        return None
    if value <= 0 or value != value:
        raise ValueError(f'a size must be a positive number, got {value}')
    return int(math.floor(math.log2(value)))


def nb101_properties(arch: NB101Arch | Any, params: float | None = None, flops: float | None = None,
                     measure: bool = False) -> NB101Properties:
    """Properties of a cell (any form :meth:`NB101Arch.parse` reads).

    ``params`` / ``flops`` in millions (as the NB101 tables store them); with ``measure=True`` the
    parameters are counted on the built network (slow: ~0.1-1 s) when ``params`` is not given.
    """
    arch = NB101Arch.parse(arch)
    if not arch.is_connected():
        return NB101Properties(False, 0, 0, 0, False, False, 0, _bucket(params), _bucket(flops))
    cell = arch.prune()
    n = cell.num_vertices
    edges = [(i, j, *_EFFECT[cell.ops[j]]) for i in range(n) for j in range(i + 1, n) if cell.matrix[i][j]]
    io = path_summaries(n, edges)[(0, n - 1)]
    if params is None and measure:
        from ..spaces.nb101 import build_nb101, count_parameters
        params = count_parameters(build_nb101(cell)) / 1e6
    width = sum(cell.matrix[i][n - 1] for i in range(n - 1))
    return NB101Properties(True, io.depth_max, io.depth_min, io.receptive, io.spatial, io.channel, width,
                           _bucket(params), _bucket(flops))


def satisfies_nb101(candidate: NB101Properties, target: NB101Properties) -> bool:
    """Lower bounds at least the target's, shape/size equal; ``None`` target fields are free."""
    for f in MATCH_FIELDS:
        want = getattr(target, f)
        if want is not None and getattr(candidate, f) != want:
            return False
    for f in LOWER_BOUND_FIELDS:
        want = getattr(target, f)
        if want is not None and (getattr(candidate, f) is None or getattr(candidate, f) < want):
            return False
    return True


