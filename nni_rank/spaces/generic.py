"""A generic encoding of any NNI model space, read from ``model_space.simplify()``.

:class:`SpaceEncoder` turns a sample dict (label -> value) into vectors for predictors and back, draws
random samples and lists one-edit neighbours for evolution. Per label:

* ``Categorical`` (``LayerChoice``, ``nni.choice``): one-hot; choice index = position in ``values``;
* ``CategoricalMultiple`` (``InputChoice``, NB101 inputs): multi-hot; choice index = bit mask of the chosen
  positions (``n_chosen=None``) or rank of the combination in :func:`itertools.combinations` order;
* ``Numerical`` (``nni.uniform`` ...): one value scaled to [0, 1] (log scale when log-distributed; standardised
  when unbounded); it has choice indices only when quantized with finite bounds;
* annotations (constraints such as NB101's ``cell/final``) are not encoded: see :meth:`SpaceEncoder.validate`.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ['SpaceEncoder']

_MAX_GRID = 100_000  # quantized numericals with more grid points are treated as continuous
_NUM_STEP = 0.1  # neighbour step of continuous numericals, in the scaled [0, 1] unit


def _position(values: list, value: Any, lookup: dict | None) -> int | None:
    if lookup is not None:
        try:
            return lookup.get(value)
        except TypeError:  # unhashable sample value
            pass
    for i, v in enumerate(values):
        if type(v) is type(value) and v == value:
            return i
    for i, v in enumerate(values):
        try:
            if v == value:
                return i
        except Exception:  # noqa: BLE001 - exotic values that cannot be compared
            continue
    return None


def _hash_lookup(values: list) -> dict | None:
    try:
        lookup = {v: i for i, v in enumerate(values)}
    except TypeError:
        return None
    return lookup if len(lookup) == len(values) else None


class _Cat:
    kind = 'categorical'

    def __init__(self, label: str, mutable):
        self.label, self.values = label, list(mutable.values)
        self.weights = np.asarray(mutable.weights, dtype=float)
        self._lookup = _hash_lookup(self.values)
        self.width = self.cardinality = len(self.values)

    def index(self, value) -> int:
        i = _position(self.values, value, self._lookup)
        if i is None:
            raise ValueError(f'value {value!r} for label {self.label!r} is not one of {self.values}')
        return i

    def value(self, index: int):
        return self.values[index]

    def features(self, value) -> np.ndarray:
        out = np.zeros(self.width)
        out[self.index(value)] = 1.0
        return out

    def random(self, rng, weighted: bool):
        return self.values[int(rng.choice(len(self.values), p=self.weights if weighted else None))]

    def neighbours(self, value) -> list:
        i = self.index(value)
        return [v for j, v in enumerate(self.values) if j != i]

    def feature_names(self) -> list[str]:
        return [f'{self.label}={v!r}' for v in self.values]


class _Multi:
    kind = 'categorical_multiple'

    def __init__(self, label: str, mutable):
        self.label, self.values, self.n_chosen = label, list(mutable.values), mutable.n_chosen
        self.weights = np.asarray(mutable.weights, dtype=float)
        self._lookup = _hash_lookup(self.values)
        n = self.width = len(self.values)
        self.cardinality = 2 ** n if self.n_chosen is None else math.comb(n, self.n_chosen)
        if self.cardinality >= 2 ** 63:
            raise ValueError(f'label {label!r}: {self.cardinality} subsets do not fit a 64-bit choice index')

    def positions(self, value) -> list[int]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, set, frozenset, np.ndarray)):
            raise ValueError(f'value for label {self.label!r} must be a list of choices from {self.values}, '
                             f'got {value!r}')
        pos = []
        for v in value:
            i = _position(self.values, v, self._lookup)
            if i is None:
                raise ValueError(f'value {v!r} in {list(value)!r} for label {self.label!r} is not one of {self.values}')
            pos.append(i)
        if len(set(pos)) != len(pos):
            raise ValueError(f'value {list(value)!r} for label {self.label!r} repeats a choice')
        if self.n_chosen is not None and len(pos) != self.n_chosen:
            raise ValueError(f'label {self.label!r} takes exactly {self.n_chosen} choices, got {list(value)!r}')
        return sorted(pos)

    def _from_positions(self, pos) -> list:
        return [self.values[i] for i in sorted(pos)]

    def index(self, value) -> int:
        pos = self.positions(value)
        if self.n_chosen is None:
            return sum(1 << i for i in pos)
        n, k, rank, prev = self.width, self.n_chosen, 0, -1
        for slot, p in enumerate(pos):  # lexicographic rank in itertools.combinations order
            for x in range(prev + 1, p):
                rank += math.comb(n - x - 1, k - slot - 1)
            prev = p
        return rank

    def value(self, index: int) -> list:
        if self.n_chosen is None:
            return self._from_positions(i for i in range(self.width) if index >> i & 1)
        n, k, pos, x = self.width, self.n_chosen, [], 0
        for slot in range(k):
            while math.comb(n - x - 1, k - slot - 1) <= index:
                index -= math.comb(n - x - 1, k - slot - 1)
                x += 1
            pos.append(x)
            x += 1
        return self._from_positions(pos)

    def features(self, value) -> np.ndarray:
        out = np.zeros(self.width)
        out[self.positions(value)] = 1.0
        return out

    def random(self, rng, weighted: bool):
        n = self.width
        if self.n_chosen is None:
            p = self.weights if weighted else np.full(n, 0.5)
            return self._from_positions(np.flatnonzero(rng.random(n) < p).tolist())
        chosen = rng.choice(n, self.n_chosen, replace=False, p=self.weights if weighted else None)
        return self._from_positions(int(i) for i in chosen)

    def neighbours(self, value) -> list:
        pos = set(self.positions(value))
        if self.n_chosen is None:  # toggle one choice
            return [self._from_positions(pos ^ {i}) for i in range(self.width)]
        out = []  # swap one chosen for one unchosen
        for i in sorted(pos):
            for j in range(self.width):
                if j not in pos:
                    out.append(self._from_positions((pos - {i}) | {j}))
        return out

    def feature_names(self) -> list[str]:
        return [f'{self.label}∋{v!r}' for v in self.values]


class _Num:
    kind = 'numerical'
    width = 1

    def __init__(self, label: str, mutable):
        self.label, self.mutable = label, mutable
        self.low = -math.inf if mutable.low is None else float(mutable.low)
        self.high = math.inf if mutable.high is None else float(mutable.high)
        self.q = mutable.quantize
        self.log = bool(mutable.log_distributed)
        self.bounded = math.isfinite(self.low) and math.isfinite(self.high) and self.high > self.low
        self.grid: list[float] | None = None
        if self.q is not None and self.bounded and (self.high - self.low) / self.q <= _MAX_GRID:
            points = {self.low, self.high}
            points.update(self.q * m for m in range(math.ceil(self.low / self.q), math.floor(self.high / self.q) + 1))
            self.grid = sorted(p for p in points if self.low <= p <= self.high)
        self.cardinality = len(self.grid) if self.grid is not None else None
        if not self.bounded:
            dist = mutable.distribution
            self._mean, self._std = float(dist.mean()), float(dist.std()) or 1.0

    def check(self, value) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f'value for numerical label {self.label!r} must be a number, got {value!r}')
        x = float(value)
        if not self.low - 1e-9 <= x <= self.high + 1e-9:
            raise ValueError(f'value {x} for label {self.label!r} lies outside [{self.low}, {self.high}]')
        return x

    def unit(self, x: float) -> float:
        if not self.bounded:
            return (x - self._mean) / self._std
        if self.log:
            return (math.log(x) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (x - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        if not self.bounded:
            return u * self._std + self._mean
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)

    def index(self, value) -> int:
        x = self.check(value)
        if self.grid is None:
            raise ValueError(f'numerical label {self.label!r} is continuous: it has no choice index '
                             '(only quantized numericals with finite bounds have one)')
        i = int(np.argmin([abs(g - x) for g in self.grid]))
        if abs(self.grid[i] - x) > 1e-6 * max(1.0, abs(x)):
            raise ValueError(f'value {x} for label {self.label!r} is not on its grid (quantize={self.q})')
        return i

    def value(self, index: int) -> float:
        if self.grid is None:
            raise ValueError(f'numerical label {self.label!r} is continuous: it cannot be decoded from an index')
        return self.grid[index]

    def features(self, value) -> np.ndarray:
        return np.array([self.unit(self.check(value))])

    def random(self, rng, weighted: bool) -> float:
        if not weighted and self.grid is not None:
            pick = rng.integers(len(self.grid)) if hasattr(rng, 'integers') else rng.randint(len(self.grid))
            return self.grid[int(pick)]
        if not weighted and self.bounded:
            return float(self.mutable.qclip(self.from_unit(float(rng.random()))))
        return float(self.mutable.qclip(self.mutable.distribution.rvs(random_state=rng)))

    def neighbours(self, value) -> list:
        x = self.check(value)
        if self.grid is not None:
            i = self.index(x)
            return [self.grid[j] for j in (i - 1, i + 1) if 0 <= j < len(self.grid)]
        out = []
        for step in (-_NUM_STEP, _NUM_STEP):
            u = self.unit(x) + step
            if self.bounded:
                u = min(max(u, 0.0), 1.0)
            y = float(self.mutable.qclip(self.from_unit(u)))
            if y != x and y not in out:
                out.append(y)
        return out

    def feature_names(self) -> list[str]:
        return [self.label]


def _as_rng(rng):
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, (np.random.Generator, np.random.RandomState)):
        return rng
    raise TypeError(f'rng must be None, a seed, numpy Generator or RandomState, got {type(rng).__name__}')


class SpaceEncoder:
    """Encodes samples of an NNI model space (a ``ModelSpace``, any mutable, or a ``simplify()`` dict).

    Labels keep the order of ``simplify()``. Annotations (constraints) are listed in :attr:`skipped`:
    they are accepted in samples but not encoded, and checked by :meth:`validate` / :meth:`is_valid`.
    """

    def __init__(self, space: Any):
        from nni.mutable import Categorical, CategoricalMultiple, MutableAnnotation, Numerical

        if isinstance(space, Mapping):
            mutables = dict(space)
        elif hasattr(space, 'simplify'):
            mutables = space.simplify()
        else:
            raise TypeError(f'expected an NNI model space or a dict from simplify(), got {type(space).__name__}')
        self._items: dict[str, _Cat | _Multi | _Num] = {}
        self._annotations: dict[str, Any] = {}
        for label, mutable in mutables.items():
            if isinstance(mutable, MutableAnnotation):
                self._annotations[label] = mutable
            elif isinstance(mutable, CategoricalMultiple):
                self._items[label] = _Multi(label, mutable)
            elif isinstance(mutable, Categorical):
                self._items[label] = _Cat(label, mutable)
            elif isinstance(mutable, Numerical):
                self._items[label] = _Num(label, mutable)
            else:
                raise TypeError(f'label {label!r}: {type(mutable).__name__} is not supported; SpaceEncoder handles '
                                'Categorical, CategoricalMultiple, Numerical and skips annotations')
        if not self._items:
            raise ValueError('the space has no Categorical, CategoricalMultiple or Numerical mutable to encode')
        #: Encoded labels, in ``simplify()`` order.
        self.labels: tuple[str, ...] = tuple(self._items)
        #: Annotation labels (constraints) present in the space but not encoded.
        self.skipped: tuple[str, ...] = tuple(self._annotations)
        self.segments: dict[str, slice] = {}
        start = 0
        for label, item in self._items.items():
            self.segments[label] = slice(start, start + item.width)
            start += item.width
        #: Length of :meth:`encode` vectors.
        self.dim: int = start

    def __repr__(self) -> str:
        return f'SpaceEncoder({len(self.labels)} labels, dim={self.dim}, size={self.size()})'

    # ----------------------------------------------------------------- description
    def kind(self, label: str) -> str:
        """``'categorical'``, ``'categorical_multiple'`` or ``'numerical'``."""
        return self._item(label).kind

    def cardinalities(self) -> tuple[int | None, ...]:
        """Number of choice indices per label (``None`` for continuous numericals)."""
        return tuple(item.cardinality for item in self._items.values())

    def size(self) -> int | None:
        """Number of configurations, constraints ignored; ``None`` when a numerical label is continuous."""
        cards = self.cardinalities()
        return None if any(c is None for c in cards) else math.prod(cards)

    def feature_names(self) -> list[str]:
        """One name per :meth:`encode` column."""
        return [name for item in self._items.values() for name in item.feature_names()]

    # ----------------------------------------------------------------- encodings
    def encode(self, sample: Mapping[str, Any]) -> np.ndarray:
        """Float vector of length :attr:`dim`: one-hot / multi-hot / scaled value per label."""
        self._check_labels(sample)
        return np.concatenate([item.features(sample[label]) for label, item in self._items.items()])

    def encode_indices(self, sample: Mapping[str, Any]) -> np.ndarray:
        """One choice index per label (``int64``), see the module docstring."""
        self._check_labels(sample)
        return np.array([item.index(sample[label]) for label, item in self._items.items()], dtype=np.int64)

    def decode_indices(self, indices: Sequence[int]) -> dict[str, Any]:
        """The sample of :meth:`encode_indices` output (encoded labels only)."""
        indices = list(np.asarray(indices).ravel()) if isinstance(indices, np.ndarray) else list(indices)
        if len(indices) != len(self.labels):
            raise ValueError(f'expected {len(self.labels)} indices (one per label), got {len(indices)}')
        sample = {}
        for (label, item), i in zip(self._items.items(), indices):
            if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
                raise ValueError(f'index for label {label!r} must be an integer, got {i!r}')
            if item.cardinality is not None and not 0 <= int(i) < item.cardinality:
                raise ValueError(f'index {int(i)} for label {label!r} is outside 0..{item.cardinality - 1}')
            sample[label] = item.value(int(i))
        return sample

    # ----------------------------------------------------------------- sampling and moves
    def all_samples(self, limit: int = 1_000_000):
        """Iterate over every sample of a finite space in index order (constraints ignored), up to ``limit``."""
        size = self.size()
        if size is None or size > limit:
            raise ValueError(f'the space has {"infinitely many" if size is None else size} configurations, '
                             f'more than limit={limit}')
        for idx in itertools.product(*(range(c) for c in self.cardinalities())):
            yield self.decode_indices(idx)

    def random_sample(self, rng: Any = None, weighted: bool = True) -> dict[str, Any]:
        """A random sample (constraints ignored). ``weighted`` follows the mutables' prior weights, as NNI does."""
        rng = _as_rng(rng)
        return {label: item.random(rng, weighted) for label, item in self._items.items()}

    def neighbours(self, sample: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Every sample that differs in one label by one edit (constraints ignored).

        Categorical: any other value; CategoricalMultiple: toggle one choice (swap one when ``n_chosen`` is
        fixed); Numerical: the adjacent grid points, or a 0.1 step of the scaled value each way.
        """
        self._check_labels(sample)
        base = {label: sample[label] for label in self.labels}
        out = []
        for label, item in self._items.items():
            for value in item.neighbours(base[label]):
                out.append({**base, label: value})
        return out

    # ----------------------------------------------------------------- constraints
    def validate(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The sample restricted to the space, completed by its annotations (e.g. NB101's ``cell/final``).

        Raises ``ValueError`` on unknown labels or values and when a constraint is violated.
        """
        from nni.mutable import SampleValidationError

        self._check_labels(sample)
        for label, item in self._items.items():  # value checks with clear messages
            item.features(sample[label])
        out = {label: sample[label] for label in self.labels}
        for label, annotation in self._annotations.items():
            try:
                err = annotation.check_contains(out)
            except SampleValidationError as exc:
                err = exc
            if err is not None:
                raise ValueError(f'sample violates constraint {label!r}: {err}')
        return out

    def is_valid(self, sample: Mapping[str, Any]) -> bool:
        """True when :meth:`validate` passes (values known and every constraint satisfied)."""
        try:
            self.validate(sample)
        except ValueError:
            return False
        return True

    # ----------------------------------------------------------------- helpers
    def _item(self, label: str):
        try:
            return self._items[label]
        except KeyError:
            raise ValueError(f'unknown label {label!r}; labels are {list(self.labels)}') from None

    def _check_labels(self, sample: Mapping[str, Any]) -> None:
        if not isinstance(sample, Mapping):
            raise ValueError(f'a sample must be a dict label -> value, got {type(sample).__name__}')
        unknown = [k for k in sample if k not in self._items and k not in self._annotations]
        if unknown:
            raise ValueError(f'unknown labels {unknown} in sample; labels are {list(self.labels)}')
        missing = [k for k in self.labels if k not in sample]
        if missing:
            raise ValueError(f'sample lacks labels {missing}')

