"""Feature tensors of architectures for predictors: NAS-Bench-201, NAS-Bench-101 and any NNI space.

Every encoder maps a list of architectures to a float matrix ``(n, dim)``; :attr:`feature_names` name the
columns. Raw scales are kept (FLOPs in MFLOPs, params in M): :class:`~nni_rank.predictors.NARPredictor`
standardises its inputs itself.

* :class:`NB201Encoder`: the cell graph of the *canonical* cell (dead edges removed, so equivalent cells
  share features): per-edge op one-hot (the 4x4 op-adjacency flattened over its 6 edges), op counts on
  live edges, the op-sequence counts of the input-to-output paths (lengths 1 to 3, BANANAS-style; off with
  ``paths=False``), MFLOPs and M params.
* :class:`NB101Encoder`: the pruned cell padded to 7 vertices (output last): upper-triangular adjacency bits,
  per-vertex op one-hot, vertex/edge counts, op counts and the depth of the longest path.
* :class:`GenericEncoder`: :class:`~nni_rank.spaces.SpaceEncoder`'s one-hot / multi-hot / scaled encoding
  of NNI samples, for any model space.

``extra`` columns (e.g. zero-cost proxy scores) are appended with :func:`with_extra_features`.
"""
from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from ..spaces import EDGES, OPS, NB201Arch, SpaceEncoder
from ..spaces.nb201_net import nb201_flops

__all__ = ['NB201Encoder', 'NB101Encoder', 'GenericEncoder', 'ProxyTable', 'with_extra_features', 'signed_log']

# input-to-output routes of the NB201 cell, as edge positions in EDGES order
_ROUTES: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
_LIVE_OPS = OPS[1:]  # every op but 'none'
_PATH_KEYS: tuple[tuple[str, ...], ...] = tuple(
    seq for length in (1, 2, 3) for seq in itertools.product(_LIVE_OPS, repeat=length))
_PATH_INDEX = {seq: i for i, seq in enumerate(_PATH_KEYS)}


def signed_log(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log1p(|x|)``: tames proxies that span many orders of magnitude (synflow)."""
    x = np.asarray(x, dtype=float)
    return np.sign(x) * np.log1p(np.abs(x))


class NB201Encoder:
    """Features of NAS-Bench-201 cells (anything :meth:`NB201Arch.parse` accepts)."""

    space = 'nb201'

    def __init__(self, num_classes: int = 10, paths: bool = True):
        self.num_classes, self.paths = num_classes, bool(paths)
        self.feature_names: list[str] = (
            [f'edge{i}{j}={op}' for (i, j) in EDGES for op in OPS]
            + [f'count:{op}' for op in _LIVE_OPS]
            + (['path:' + '>'.join(seq) for seq in _PATH_KEYS] if self.paths else [])
            + ['mflops', 'mparams'])
        self.dim = len(self.feature_names)
        self._cols = None if self.paths else np.r_[0:len(EDGES) * len(OPS) + len(_LIVE_OPS), -2, -1]

    def __repr__(self) -> str:
        return f'NB201Encoder(dim={self.dim}, paths={self.paths})'

    def _one(self, arch: Any) -> np.ndarray:
        full = _nb201_features(NB201Arch.parse(arch).canonical(), self.num_classes)
        return full if self._cols is None else full[self._cols]

    def encode_one(self, arch: Any) -> np.ndarray:
        return self._one(arch).copy()

    def encode(self, archs: Sequence[Any]) -> np.ndarray:
        """``(len(archs), dim)`` float32 matrix."""
        if len(archs) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._one(a) for a in archs])

    @staticmethod
    def key(arch: Any) -> NB201Arch:
        """Deduplication key: the canonical cell (equivalent cells share it)."""
        return NB201Arch.parse(arch).canonical()


@lru_cache(maxsize=None)
def _nb201_features(canon: NB201Arch, num_classes: int) -> np.ndarray:
    ids = canon.indices()
    onehot = np.zeros((len(EDGES), len(OPS)), dtype=np.float32)
    onehot[np.arange(len(EDGES)), ids] = 1.0
    counts = onehot[:, 1:].sum(0)
    paths = np.zeros(len(_PATH_KEYS), dtype=np.float32)
    for route in _ROUTES:
        seq = tuple(canon.ops[e] for e in route)
        if 'none' not in seq:
            paths[_PATH_INDEX[seq]] += 1.0
    mflops, mparams = nb201_flops(canon, num_classes=num_classes)
    out = np.concatenate([onehot.ravel(), counts, paths, np.array([mflops, mparams], dtype=np.float32)])
    out.setflags(write=False)
    return out


class NB101Encoder:
    """Features of NAS-Bench-101 cells (:class:`~nni_rank.spaces.nb101.NB101Arch`, NNI samples or ``(matrix, ops)``)."""

    space = 'nb101'
    _N = 7

    def __init__(self):
        from ..spaces.nb101 import OPS as NB101_OPS
        self._ops = NB101_OPS
        n = self._N
        self._triu = [(i, j) for i in range(n) for j in range(i + 1, n)]
        self.feature_names: list[str] = (
            [f'adj{i}{j}' for i, j in self._triu]
            + [f'v{v}={op}' for v in range(1, n - 1) for op in self._ops]
            + ['num_vertices', 'num_edges'] + [f'count:{op}' for op in self._ops] + ['depth'])
        self.dim = len(self.feature_names)

    def __repr__(self) -> str:
        return f'NB101Encoder(dim={self.dim})'

    def _parse(self, arch):
        from ..spaces.nb101 import NB101Arch
        if isinstance(arch, tuple) and len(arch) == 2 and not isinstance(arch[1], str) and \
                isinstance(arch[0], (list, tuple, np.ndarray)) and len(arch[1]) == len(arch[0]):
            arch = NB101Arch(arch[0], arch[1])
        return NB101Arch.parse(arch).prune()

    def encode_one(self, arch: Any) -> np.ndarray:
        cell = self._parse(arch)
        n, m = self._N, cell.num_vertices
        order = list(range(m - 1)) + [n - 1]  # pad in the middle: output stays vertex 6
        adj = np.zeros((n, n), dtype=np.float32)
        for i in range(m):
            for j in range(m):
                if cell.matrix[i][j]:
                    adj[order[i], order[j]] = 1.0
        ops = np.zeros((n - 2, len(self._ops)), dtype=np.float32)
        for v in range(1, m - 1):
            ops[order[v] - 1, self._ops.index(cell.ops[v])] = 1.0
        depth = np.zeros(m)
        for j in range(1, m):
            srcs = [i for i in range(j) if cell.matrix[i][j]]
            depth[j] = 1 + max((depth[i] for i in srcs), default=-1)
        tri = np.array([adj[i, j] for i, j in self._triu], dtype=np.float32)
        stats = np.array([m, cell.num_edges, *ops.sum(0), depth[-1]], dtype=np.float32)
        return np.concatenate([tri, ops.ravel(), stats])

    def encode(self, archs: Sequence[Any]) -> np.ndarray:
        if len(archs) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.encode_one(a) for a in archs])

    def key(self, arch: Any) -> str:
        """Deduplication key: the official isomorphism hash."""
        return self._parse(arch).hash()


class GenericEncoder:
    """Features of samples (``{label: value}``) of any NNI model space, through :class:`SpaceEncoder`."""

    space = 'generic'

    def __init__(self, space: Any):
        self.encoder = space if isinstance(space, SpaceEncoder) else SpaceEncoder(space)
        self.feature_names = self.encoder.feature_names()
        self.dim = self.encoder.dim

    def __repr__(self) -> str:
        return f'GenericEncoder({self.encoder!r})'

    def encode_one(self, sample: Mapping[str, Any]) -> np.ndarray:
        return self.encoder.encode(self._restrict(sample)).astype(np.float32)

    def encode(self, samples: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if len(samples) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.encode_one(s) for s in samples])

    def key(self, sample: Mapping[str, Any]) -> tuple:
        """Deduplication key: the encoded values (hashable)."""
        return tuple(self.encode_one(sample).round(9).tolist())

    def _restrict(self, sample: Mapping[str, Any]) -> dict:
        allowed = set(self.encoder.labels) | set(self.encoder.skipped)
        return {k: v for k, v in sample.items() if k in allowed}


def with_extra_features(features: np.ndarray, extra: np.ndarray | None, log_scale: bool = True) -> np.ndarray:
    """Append extra columns (e.g. zero-cost proxies, ``(n, m)``) to encoder features; NaN becomes 0.

    ``log_scale`` applies :func:`signed_log` first (proxy values span many orders of magnitude).
    """
    if extra is None:
        return features
    extra = np.asarray(extra, dtype=float)
    if extra.ndim == 1:
        extra = extra[:, None]
    if extra.shape[0] != features.shape[0]:
        raise ValueError(f'{extra.shape[0]} rows of extra features for {features.shape[0]} architectures')
    if log_scale:
        extra = signed_log(extra)
    extra = np.where(np.isfinite(extra), extra, 0.0)
    return np.concatenate([features, extra.astype(features.dtype)], axis=1)


class ProxyTable:
    """Zero-cost proxy scores of NAS-Bench-201 cells read from a table (e.g. NAS-Bench-Suite-Zero's reference CSV).

    The CSV needs an ``arch_str`` column and one column per proxy; rows are keyed by canonical cell, so
    every equivalent cell gets its class's values (the mean when a class has several rows). Proxy names
    of this project are mapped to the table's columns (``naswot`` -> ``nwot``, ``jacob_cov`` -> ``jacov``).
    Callable on a list of architectures or NNI samples: ``ProxyTable(path, ['synflow'])(archs) -> (n, m)``.
    With ``exact=True`` a cell's own row is used when the table has one (the class mean otherwise), for
    tables that list every cell (``nni-rank proxies --space nb201 --all``, the packaged NB201 table).
    """

    def __init__(self, path, names: Sequence[str], exact: bool = False):
        import csv
        from pathlib import Path
        from ..proxies import REFERENCE_COLUMNS
        from ..resources import resolve_benchmark
        path = Path(resolve_benchmark(str(path)))  # 'nb201-packaged': the table shipped with the package
        if not path.is_file():
            raise FileNotFoundError(f'proxy table {path} not found')
        self.names = [n.strip() for n in names if n.strip()]
        if not self.names:
            raise ValueError('give at least one proxy name')
        with open(path, newline='') as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            if 'arch_str' not in header:
                raise ValueError(f'proxy table {path} has no arch_str column')
            self.columns = []
            for name in self.names:
                column = name if name in header else REFERENCE_COLUMNS.get(name)
                if column not in header:
                    raise ValueError(f'proxy {name!r} is not a column of {path}; columns: '
                                     f'{", ".join(c for c in header if c not in ("index", "arch_str"))}')
                self.columns.append(column)
            sums: dict[NB201Arch, np.ndarray] = {}
            counts: dict[NB201Arch, int] = {}
            self._exact: dict[NB201Arch, np.ndarray] = {}
            for line, row in enumerate(reader, start=2):
                arch = NB201Arch.from_str(row['arch_str'])
                try:
                    vals = np.array([float(row[c]) if row[c] not in ('', 'nan') else np.nan for c in self.columns])
                except (TypeError, ValueError):
                    raise ValueError(f'proxy table {path} line {line}: unreadable value in '
                                     f'{", ".join(self.columns)}') from None
                if exact:
                    self._exact[arch] = vals
                key = arch.canonical()
                sums[key] = sums.get(key, 0.0) + vals
                counts[key] = counts.get(key, 0) + 1
        self._values = {k: v / counts[k] for k, v in sums.items()}
        self.source = str(path)

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, arch: Any) -> bool:
        return NB201Arch.parse(arch).canonical() in self._values

    def scores(self, archs: Sequence[Any]) -> np.ndarray:
        """``(n, len(names))``; NaN rows for cells the table does not cover."""
        nan = np.full(len(self.names), np.nan)
        rows = []
        for a in archs:
            arch = NB201Arch.parse(a)
            row = self._exact.get(arch)
            rows.append(row if row is not None else self._values.get(arch.canonical(), nan))
        return np.array(rows, dtype=float).reshape(len(rows), len(self.names))

    __call__ = scores
