"""Weight-sharing NAS-Bench-201 supernet: every edge holds all five candidate ops, one runs per forward.

The skeleton and module classes are those of :mod:`nni_rank.spaces.nb201_net` (stem, three stages of
``cells_per_stage`` cells with the two ResNet reduction blocks, ``lastact``, pooling, classifier).
Each cell edge is a :class:`MixedEdge` whose ``candidates`` are indexed like :data:`~nni_rank.spaces.OPS`
(``none``, ``skip_connect``, ``nor_conv_1x1``, ``nor_conv_3x3``, ``avg_pool_3x3``); ``none`` is a
parameter-free zero, so any NB201 cell can be run and ranked even when training never samples it.

``net(x, arch)`` runs the subnet ``arch`` (anything :meth:`NB201Arch.parse` accepts);
``net.set_arch(arch)`` then ``net(x)`` does the same with an active path.  :meth:`NB201Supernet.subnet`
copies the inherited weights into a standalone :func:`~nni_rank.spaces.nb201_net.build_nb201` network.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..spaces.nb201 import EDGES, OPS, NB201Arch
from ..spaces.nb201_net import Pooling, ReLUConvBN, ResNetBasicblock, Zero

__all__ = ['MixedEdge', 'SuperCell', 'NB201Supernet']

_OP_INDEX = {op: i for i, op in enumerate(OPS)}


def _candidate(op: str, C: int, affine: bool, track: bool) -> nn.Module:
    if op == 'none':
        return Zero(C, C, 1)
    if op == 'skip_connect':
        return nn.Identity()
    if op == 'nor_conv_1x1':
        return ReLUConvBN(C, C, 1, 1, 0, 1, affine, track)
    if op == 'nor_conv_3x3':
        return ReLUConvBN(C, C, 3, 1, 1, 1, affine, track)
    if op == 'avg_pool_3x3':
        return Pooling(C, C, 1)
    raise ValueError(f'unknown NAS-Bench-201 op {op!r}; expected one of {OPS}')


class MixedEdge(nn.Module):
    """One cell edge holding every candidate op (weights shared by all subnets choosing it)."""

    def __init__(self, C: int, affine: bool = False, track_running_stats: bool = True):
        super().__init__()
        self.candidates = nn.ModuleList(_candidate(op, C, affine, track_running_stats) for op in OPS)

    def forward(self, x: torch.Tensor, op: str) -> torch.Tensor:
        return self.candidates[_OP_INDEX[op]](x)


class SuperCell(nn.Module):
    """NB201 cell over :class:`MixedEdge` s; ``layers[j-1][i]`` is the edge ``i -> j`` (NNI's layout).

    Node ``j`` is the sum of its live in-edges; ``none`` edges are skipped (same value as adding
    zero) and a node without live inputs is zero.
    """

    def __init__(self, C: int, affine: bool = False, track_running_stats: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(MixedEdge(C, affine, track_running_stats) for _ in range(j)) for j in (1, 2, 3))

    def forward(self, x: torch.Tensor, arch: NB201Arch) -> torch.Tensor:
        nodes = [x]
        for j in (1, 2, 3):
            out = None
            for (i, jj), op in zip(EDGES, arch.ops):
                if jj != j or op == 'none':
                    continue
                y = self.layers[j - 1][i](nodes[i], op)
                out = y if out is None else out + y
            nodes.append(torch.zeros_like(x) if out is None else out)
        return nodes[-1]


class NB201Supernet(nn.Module):
    """The NAS-Bench-201 supernet (one cell architecture shared by all cells, as in the benchmark).

    Parameters
    ----------
    num_classes, channels, cells_per_stage
        As :func:`~nni_rank.spaces.nb201_net.build_nb201` (NB201 uses C=16 and 5 cells per stage).
    bn_affine
        Affine BatchNorm everywhere; ``False`` (default) as in the RD-NAS/SPOS supernets, since
        per-subnet statistics are recalibrated before evaluation anyway.
    """

    def __init__(self, num_classes: int = 10, channels: int = 16, cells_per_stage: int = 5,
                 bn_affine: bool = False, in_channels: int = 3):
        super().__init__()
        if channels < 1 or cells_per_stage < 1 or num_classes < 2:
            raise ValueError(f'need channels >= 1, cells_per_stage >= 1 and num_classes >= 2, got '
                             f'{channels}, {cells_per_stage}, {num_classes}')
        self.num_classes, self.channels, self.cells_per_stage = num_classes, channels, cells_per_stage
        self.bn_affine = bool(bn_affine)
        C, affine = channels, self.bn_affine
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(C, affine=affine))
        cells, C_prev = [], C
        for stage in range(3):
            C_curr = C * 2 ** stage
            if stage > 0:
                cells.append(ResNetBasicblock(C_prev, C_curr, 2, affine, True))
            cells.extend(SuperCell(C_curr, affine) for _ in range(cells_per_stage))
            C_prev = C_curr
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev, affine=affine), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        self._active: NB201Arch | None = None

    def config(self) -> dict:
        """Constructor arguments (to rebuild the same supernet from a checkpoint)."""
        return {'num_classes': self.num_classes, 'channels': self.channels,
                'cells_per_stage': self.cells_per_stage, 'bn_affine': self.bn_affine,
                'in_channels': self.stem[0].in_channels}

    def set_arch(self, arch) -> NB201Arch:
        """Make ``arch`` the active path used by ``forward(x)`` without an ``arch``."""
        self._active = NB201Arch.parse(arch)
        return self._active

    @property
    def active_arch(self) -> NB201Arch | None:
        return self._active

    def forward(self, x: torch.Tensor, arch=None) -> torch.Tensor:
        if arch is None:
            if self._active is None:
                raise ValueError('no architecture given: call net(x, arch) or net.set_arch(arch) first')
            arch = self._active
        elif not isinstance(arch, NB201Arch):
            arch = NB201Arch.parse(arch)
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature, arch) if isinstance(cell, SuperCell) else cell(feature)
        out = self.global_pooling(self.lastact(feature))
        return self.classifier(out.flatten(1))

    def subnet(self, arch) -> nn.Module:
        """A standalone :func:`build_nb201` network for ``arch`` holding copies of the inherited weights."""
        from ..spaces.nb201_net import build_nb201
        arch = NB201Arch.parse(arch)
        net = build_nb201(arch, self.num_classes, self.channels, self.cells_per_stage, bn_affine=self.bn_affine)
        if self.stem[0].in_channels != 3:
            raise ValueError('subnet export supports 3-channel inputs only (the NB201 stem)')
        own = self.state_dict()
        state = {}
        for key in net.state_dict():
            state[key] = own[_supernet_key(key, arch)].clone()
        net.load_state_dict(state)
        return net


def _supernet_key(key: str, arch: NB201Arch) -> str:
    """Map a :func:`build_nb201` state-dict key to the supernet's (insert the chosen candidate)."""
    parts = key.split('.')
    # cells.<k>.layers.<j-1>.<pos>.<rest>: pos counts the in-edges of node j in EDGES order = source node i
    if len(parts) > 5 and parts[0] == 'cells' and parts[2] == 'layers':
        j, i = int(parts[3]) + 1, int(parts[4])
        op = arch.ops[EDGES.index((i, j))]
        return '.'.join(parts[:5] + ['candidates', str(_OP_INDEX[op])] + parts[5:])
    return key
