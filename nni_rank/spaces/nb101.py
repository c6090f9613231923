"""NAS-Bench-101 cell: conversions, pruning, the official isomorphism hash and network building.

A cell is a DAG over at most 7 vertices (input, up to 5 ops, output) with at most 9 edges, given as an
upper-triangular 0/1 adjacency matrix plus one op per vertex. Representations handled here:

* the matrix and op list themselves (:class:`NB101Arch` fields, as in the official ``ModelSpec``);
* the row-major bit string and ``|``-joined ops of the shared CSV (:meth:`NB101Arch.from_strings`);
* NNI's ``NasBench101`` sample dict (:meth:`NB101Arch.from_sample`, :meth:`NB101Arch.to_sample`).

NNI's sample format (``nni.nas.hub.pytorch.NasBench101``; labels scoped ``cell/`` in the hub space, bare
in ``NasBench101Benchmark.default_space()``): ``num_nodes`` (2..7, output is vertex ``num_nodes - 1``),
``op1..op5`` (op of vertex i), ``input1..input6`` (sorted list of the sources of vertex i). Only
``op1..op{n-2}`` and ``input1..input{n-1}`` are read; the others are still sampled by NNI. The cell
constraint then stores the *pruned* cell as ``final`` (``{'op1': ..., 'input1': [...], ...}``, no
``num_nodes``): that dict is what NNI's NB101 benchmark query reads (:meth:`NB101Arch.to_nni_arch`).

:meth:`NB101Arch.prune` and :meth:`NB101Arch.hash` follow the official ``nasbench`` code, so hashes
equal the keys of the official dataset.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .nb201 import InvalidArchitecture, as_index

__all__ = ['InvalidArchitecture', 'NB101Arch', 'build_nb101', 'count_parameters',
           'OPS', 'INPUT', 'OUTPUT', 'MAX_VERTICES', 'MAX_EDGES']

INPUT = 'input'
OUTPUT = 'output'
#: Official op names, in the order of the benchmark's ``available_ops`` (this order defines the hash labels).
OPS: tuple[str, ...] = ('conv3x3-bn-relu', 'conv1x1-bn-relu', 'maxpool3x3')
MAX_VERTICES = 7
MAX_EDGES = 9

_OP_LABEL = {INPUT: -1, OUTPUT: -2, **{op: i for i, op in enumerate(OPS)}}
_NNI_KEYS = {'num_nodes', 'final'} | {f'op{i}' for i in range(1, MAX_VERTICES - 1)} \
    | {f'input{i}' for i in range(1, MAX_VERTICES)}


def _as_matrix(matrix: Any) -> tuple[tuple[int, ...], ...]:
    if hasattr(matrix, 'tolist'):  # numpy array or torch tensor
        matrix = matrix.tolist()
    try:
        rows = tuple(tuple(x if isinstance(x, int) else _exact_int(x) for x in row) for row in matrix)
    except (TypeError, ValueError, OverflowError):
        raise InvalidArchitecture(f'adjacency matrix must be a square 0/1 matrix, got {matrix!r}') from None
    return tuple(tuple(int(x) for x in row) for row in rows)


def _exact_int(x: Any) -> int:
    value = int(x)
    if value != x:
        raise ValueError(x)
    return value


@dataclass(frozen=True, order=True)
class NB101Arch:
    """One NAS-Bench-101 cell: ``matrix[i][j] == 1`` for an edge ``i -> j``; ``ops`` include input/output.

    Any nested sequence or array is accepted for ``matrix`` (stored as a tuple of tuples). The cell is
    stored as given, possibly with dangling vertices and edges (see :meth:`prune`). As in the official
    ``is_valid``, the limit of 9 edges applies to the pruned cell: raw matrices of the benchmark tables
    can hold more (dangling) edges.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __post_init__(self):
        matrix = _as_matrix(self.matrix)
        if isinstance(self.ops, str):
            raise InvalidArchitecture(f'ops must be a sequence of op names, got the string {self.ops!r}')
        ops = tuple(self.ops)
        n = len(matrix)
        if any(len(row) != n for row in matrix):
            raise InvalidArchitecture(f'adjacency matrix must be square, got row lengths {[len(r) for r in matrix]}')
        if not 2 <= n <= MAX_VERTICES:
            raise InvalidArchitecture(f'a NAS-Bench-101 cell has 2 to {MAX_VERTICES} vertices, got {n}')
        if len(ops) != n:
            raise InvalidArchitecture(f'{len(ops)} ops for a {n}x{n} matrix; ops must include input and output')
        bad = sorted({x for row in matrix for x in row} - {0, 1})
        if bad:
            raise InvalidArchitecture(f'adjacency matrix entries must be 0 or 1, found {bad}')
        below = [(i, j) for i in range(n) for j in range(i + 1) if matrix[i][j]]
        if below:
            raise InvalidArchitecture(f'adjacency matrix must be strictly upper triangular (a DAG in vertex order); '
                                      f'edges {below} go backwards or loop')
        if ops[0] != INPUT or ops[-1] != OUTPUT:
            raise InvalidArchitecture(f'first op must be {INPUT!r} and last {OUTPUT!r}, got {ops[0]!r} and {ops[-1]!r}')
        for op in ops[1:-1]:
            if op not in OPS:
                raise InvalidArchitecture(f'unknown NAS-Bench-101 op {op!r}; expected one of {OPS}')
        object.__setattr__(self, 'matrix', matrix)
        object.__setattr__(self, 'ops', ops)
        live = self.num_live_edges()
        if live > MAX_EDGES:
            raise InvalidArchitecture(f'a NAS-Bench-101 cell has at most {MAX_EDGES} edges on input-output paths, '
                                      f'got {live}')

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_strings(cls, adjacency: str, ops: str | Sequence[str]) -> 'NB101Arch':
        """From a row-major bit string (``n*n`` chars, 49 for 7 vertices) and ``|``-joined (or listed) ops."""
        bits = adjacency.strip() if isinstance(adjacency, str) else adjacency
        if not isinstance(bits, str) or set(bits) - {'0', '1'}:
            raise InvalidArchitecture(f'adjacency must be a string of 0/1 characters, got {adjacency!r}')
        n = int(round(len(bits) ** 0.5))
        if n * n != len(bits):
            raise InvalidArchitecture(f'adjacency string has {len(bits)} bits, not a square number')
        op_list = ops.strip().split('|') if isinstance(ops, str) else list(ops)
        matrix = [[int(bits[i * n + j]) for j in range(n)] for i in range(n)]
        return cls(matrix, tuple(op_list))

    @classmethod
    def from_sample(cls, sample: Mapping[str, Any], scope: str | None = None) -> 'NB101Arch':
        """From an NNI ``NasBench101`` sample; labels may be scoped (``cell/op1``) or bare (``op1``).

        A full sample (with ``num_nodes``) is read losslessly; a dict without ``num_nodes`` (NNI's
        ``final`` value or benchmark architecture dict) is read as a cell of ``#ops + 2`` vertices.
        ``scope`` selects one cell when the sample holds several differently scoped cells.
        """
        if not isinstance(sample, Mapping):
            raise InvalidArchitecture(f'an NNI sample must be a dict, got {type(sample).__name__}')
        groups: dict[str, dict[str, Any]] = {}
        for label, value in sample.items():
            prefix, _, key = str(label).rpartition('/')
            if key in _NNI_KEYS:
                groups.setdefault(prefix, {})[key] = value
        if scope is not None:
            if scope not in groups:
                raise InvalidArchitecture(f'no NAS-Bench-101 labels under scope {scope!r} in sample; '
                                          f'scopes found: {sorted(groups)}')
            fields = groups[scope]
        elif len(groups) == 1:
            fields = next(iter(groups.values()))
        elif not groups:
            raise InvalidArchitecture(f'sample {dict(sample)} has no NAS-Bench-101 labels '
                                      '(num_nodes, op1, input1, ...)')
        else:
            raise InvalidArchitecture(f'sample holds several NAS-Bench-101 cells (scopes {sorted(groups)}); '
                                      'pass scope=')

        if 'num_nodes' in fields:
            n = as_index(fields['num_nodes'], MAX_VERTICES + 1)
            if n is None or n < 2:
                raise InvalidArchitecture(f'num_nodes must lie in 2..{MAX_VERTICES} (an integer), '
                                          f'got {fields["num_nodes"]!r}')
        elif any(k.startswith(('op', 'input')) for k in fields):
            n = sum(1 for k in fields if k.startswith('op')) + 2
        elif isinstance(fields.get('final'), Mapping):
            return cls.from_sample(fields['final'])
        else:
            raise InvalidArchitecture(f'sample {dict(sample)} has no num_nodes, op or input labels')
        if not 2 <= n <= MAX_VERTICES:
            raise InvalidArchitecture(f'num_nodes must lie in 2..{MAX_VERTICES}, got {n}')
        needed = [f'op{i}' for i in range(1, n - 1)] + [f'input{i}' for i in range(1, n)]
        missing = [k for k in needed if k not in fields]
        if missing:
            raise InvalidArchitecture(f'sample lacks labels {missing} for a {n}-vertex NAS-Bench-101 cell')
        matrix = [[0] * n for _ in range(n)]
        for i in range(1, n):
            sources = fields[f'input{i}']
            if isinstance(sources, (str, bytes)) or not isinstance(sources, Sequence):
                raise InvalidArchitecture(f'input{i} must be a list of source vertices, got {sources!r}')
            for k in sources:
                src = as_index(k, i)
                if src is None:
                    raise InvalidArchitecture(f'input{i} = {list(sources)}: sources must be integers in 0..{i - 1}, '
                                              f'got {k!r}')
                matrix[src][i] = 1
        ops = (INPUT,) + tuple(fields[f'op{i}'] for i in range(1, n - 1)) + (OUTPUT,)
        return cls(matrix, ops)

    @classmethod
    def parse(cls, arch: 'NB101Arch | Mapping[str, Any] | tuple') -> 'NB101Arch':
        """Accept an :class:`NB101Arch`, an NNI sample, ``(bits, ops)`` strings or ``(matrix, ops)``."""
        if isinstance(arch, NB101Arch):
            return arch
        if isinstance(arch, Mapping):
            return cls.from_sample(arch)
        if isinstance(arch, (tuple, list)) and len(arch) == 2:
            if isinstance(arch[0], str):
                return cls.from_strings(arch[0], arch[1])
            return cls(arch[0], tuple(arch[1]))
        raise InvalidArchitecture(f'cannot read a NAS-Bench-101 cell from {arch!r}')

    # ----------------------------------------------------------------- views
    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    def to_strings(self) -> tuple[str, str]:
        """``(row-major bit string, '|'-joined ops)``, the shared CSV format (``n*n`` bits)."""
        return ''.join(str(x) for row in self.matrix for x in row), '|'.join(self.ops)

    def sources(self, vertex: int) -> list[int]:
        """Vertices with an edge into ``vertex``."""
        return [k for k in range(vertex) if self.matrix[k][vertex]]

    def to_nni_arch(self) -> dict[str, Any]:
        """NNI's architecture dict of the *pruned* cell (``op1``.., ``input1``..), i.e. the ``final`` value."""
        pruned = self.prune()
        n = pruned.num_vertices
        arch: dict[str, Any] = {}
        for i in range(1, n):
            if i < n - 1:
                arch[f'op{i}'] = pruned.ops[i]
            arch[f'input{i}'] = pruned.sources(i)
        return arch

    def to_sample(self, scope: str = 'cell', pad: bool = True, final: bool = True,
                  prune: bool | None = None) -> dict[str, Any]:
        """NNI ``NasBench101`` sample (``scope=''`` for bare labels, as in the benchmark's default space).

        ``pad`` fills the labels NNI samples but ignores for smaller cells (``op{i}`` -> first op,
        ``input{i}`` -> ``[]``), so that the sample covers every label of the space. ``final`` adds the
        pruned cell under ``final``, as NNI's constraint does (needs a connected cell). NNI's constraint
        counts edges *before* pruning, so ``prune=None`` (default) writes the pruned cell (same hash, same
        network) only when the raw one has more than 9 edges; ``True``/``False`` force either.
        """
        if prune is None:
            prune = self.num_edges > MAX_EDGES
        if prune:
            return self.prune().to_sample(scope, pad, final, prune=False)
        prefix = f'{scope}/' if scope else ''
        n = self.num_vertices
        sample: dict[str, Any] = {prefix + 'num_nodes': n}
        last_op, last_input = (MAX_VERTICES - 2, MAX_VERTICES - 1) if pad else (n - 2, n - 1)
        for i in range(1, last_op + 1):
            sample[f'{prefix}op{i}'] = self.ops[i] if i < n - 1 else OPS[0]
        for i in range(1, last_input + 1):
            sample[f'{prefix}input{i}'] = self.sources(i) if i < n else []
        if final:
            sample[prefix + 'final'] = self.to_nni_arch()
        return sample

    def __str__(self) -> str:
        bits, ops = self.to_strings()
        return f'NB101Arch({bits}, {ops})'

    # ----------------------------------------------------------------- structure
    def _reachable(self) -> tuple[set[int], set[int]]:
        n = self.num_vertices
        fwd = {0}
        for j in range(1, n):  # vertex order is topological
            if any(self.matrix[i][j] for i in fwd):
                fwd.add(j)
        bwd = {n - 1}
        for i in range(n - 2, -1, -1):
            if any(self.matrix[i][j] for j in bwd):
                bwd.add(i)
        return fwd, bwd

    def num_live_edges(self) -> int:
        """Edges left after :meth:`prune` (0 for a disconnected cell); the official limit of 9 applies to these."""
        fwd, bwd = self._reachable()
        live = fwd & bwd
        return sum(self.matrix[i][j] for i in live for j in live)

    def is_connected(self) -> bool:
        """True when some path leads from the input to the output (the official ``valid_spec``)."""
        fwd, _ = self._reachable()
        return self.num_vertices - 1 in fwd

    def prune(self) -> 'NB101Arch':
        """Drop vertices on no input-to-output path, keeping the order of the rest (official ``ModelSpec``).

        Raises :class:`InvalidArchitecture` when the output is not reachable from the input.
        """
        fwd, bwd = self._reachable()
        keep = sorted(fwd & bwd)
        if len(keep) < 2:
            raise InvalidArchitecture(f'{self}: no path from input to output, the cell is invalid')
        if len(keep) == self.num_vertices:
            return self
        return NB101Arch(tuple(tuple(self.matrix[i][j] for j in keep) for i in keep),
                         tuple(self.ops[i] for i in keep))

    def relabel(self, order: Sequence[int]) -> 'NB101Arch':
        """The same graph with vertex ``order[k]`` moved to position ``k``; ``order`` must stay topological."""
        n = self.num_vertices
        if sorted(order) != list(range(n)):
            raise InvalidArchitecture(f'order {list(order)} is not a permutation of 0..{n - 1}')
        matrix = tuple(tuple(self.matrix[a][b] for b in order) for a in order)
        try:
            return NB101Arch(matrix, tuple(self.ops[a] for a in order))
        except InvalidArchitecture as err:
            raise InvalidArchitecture(f'order {list(order)} is not a valid relabelling: {err}') from None

    def hash(self) -> str:
        """Official NAS-Bench-101 graph hash (``graph_util.hash_module``) of the pruned cell.

        Isomorphic cells share it; it is the key of the official dataset. Labels: input -1, output -2,
        ops their index in :data:`OPS`. Vertex hashes start from md5 of ``(out-degree, in-degree, label)``
        and are refined ``n`` times with the sorted hashes of in- and out-neighbours.
        """
        cell = self.prune()
        n = cell.num_vertices
        m = cell.matrix
        in_deg = [sum(m[i][j] for i in range(n)) for j in range(n)]
        out_deg = [sum(row) for row in m]
        hashes = [_md5(str((out_deg[v], in_deg[v], _OP_LABEL[cell.ops[v]]))) for v in range(n)]
        for _ in range(n):
            hashes = [_md5(''.join(sorted(hashes[w] for w in range(n) if m[w][v])) + '|'
                           + ''.join(sorted(hashes[w] for w in range(n) if m[v][w])) + '|' + hashes[v])
                      for v in range(n)]
        return _md5(str(sorted(hashes)))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode('utf-8')).hexdigest()


# --------------------------------------------------------------------- networks
def build_nb101(arch: 'NB101Arch | Mapping[str, Any] | tuple', num_classes: int = 10, stem_out_channels: int = 128,
                num_stacks: int = 3, num_modules_per_stack: int = 3, *, in_channels: int = 3,
                bn_momentum: float = 0.003, bn_eps: float = 1e-5):
    """The NAS-Bench-101 network of ``arch`` (a :class:`torch.nn.Module`), built with ``nasbench_pytorch``.

    Parameter counts equal the official ``trainable_parameters`` with the defaults. Two clean-ups of
    ``nasbench_pytorch.model.Network``: its unused ``Placeholder`` modules (one scalar parameter each) become
    ``nn.Identity`` and the empty ``dev_param`` of each cell becomes a buffer, so every parameter is real and
    receives a gradient. ``bn_momentum`` is in PyTorch's convention: 0.003 is the official TF decay 0.997
    (``nasbench_pytorch``'s default ``momentum=0.997`` is the TF value passed to PyTorch unchanged, and its
    vertex ops ignore the setting); it is applied to every batch norm here.
    """
    import numpy as np
    import torch
    from nasbench_pytorch.model import ModelSpec, Network
    from nasbench_pytorch.model.model import Cell, Placeholder

    cell = NB101Arch.parse(arch).prune()
    spec = ModelSpec(np.array(cell.matrix, dtype=np.int64), list(cell.ops))
    net = Network(spec, num_labels=num_classes, in_channels=in_channels, stem_out_channels=stem_out_channels,
                  num_stacks=num_stacks, num_modules_per_stack=num_modules_per_stack,
                  momentum=bn_momentum, eps=bn_eps)
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Placeholder):
                setattr(module, name, torch.nn.Identity())
        if isinstance(module, torch.nn.BatchNorm2d):  # nasbench_pytorch leaves the vertex ops at 0.1 / 1e-5
            module.momentum, module.eps = bn_momentum, bn_eps
        if isinstance(module, Cell):
            del module._parameters['dev_param']
            module.register_buffer('dev_param', torch.empty(0), persistent=False)
    return net


def count_parameters(model) -> int:
    """Number of parameters of a torch module (what the official table calls ``trainable_parameters``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
