"""One seam between search spaces and everything that searches them.

A :class:`SpaceAdapter` answers, for one kind of space, what strategies, predictors, proxy scorers,
benchmark tables and commands need to know about a sample::

    adapter = adapter_for(model_space)      # a ModelSpace, an ExecutableModelSpace or a simplify() dict
    adapter.describe(sample)                # text naming the architecture (query histories, tables)
    adapter.arch(sample)                    # key of the sample in a benchmark table of this space
    adapter.network(sample, seed=0)         # a freshly initialised torch module, for zero-cost proxies
    adapter.candidates()                    # NAR's view: encodings, choice indices, neighbours

Adapters are tried most specific first (the last registered first); :class:`ModelSpaceAdapter` takes any
space with categorical choices and is always last. A new kind of space is one module that subclasses
:class:`SpaceAdapter` and calls :func:`register_adapter`; nothing else tests for a space kind.
"""
from __future__ import annotations

import inspect
import itertools
import json
import re
import sys
from pathlib import Path
from typing import Any, Hashable, Mapping

import numpy as np

from ..files import short_hash

__all__ = ['SpaceAdapter', 'ModelSpaceAdapter', 'SampleCandidates', 'adapter_for', 'load_space', 'register_adapter',
           'categorical_choices', 'encode_sample']

_REGISTRY: list[type['SpaceAdapter']] = []


def register_adapter(cls: type['SpaceAdapter']) -> type['SpaceAdapter']:
    """Class decorator: make ``cls`` a candidate of :func:`adapter_for` (tried before those registered earlier)."""
    if cls not in _REGISTRY:
        _REGISTRY.append(cls)
    return cls


def _simplified(space: Any) -> dict[str, Any]:
    if isinstance(space, Mapping):
        return dict(space)
    if hasattr(space, 'simplify'):
        return space.simplify()
    raise TypeError(f'expected an NNI model space, got {type(space).__name__}')


def _network_space(space: Any) -> Any:
    """The user's ``ModelSpace`` behind ``space`` (``ExecutableModelSpace`` wrappers keep it as ``model_space``)."""
    from nni.nas.nn.pytorch import ModelSpace
    while not isinstance(space, ModelSpace) and hasattr(space, 'model_space'):
        space = space.model_space
    return space if isinstance(space, ModelSpace) else None


def adapter_for(space: Any) -> 'SpaceAdapter':
    """The adapter of the most specific registered kind that handles ``space``.

    ``space`` is an NNI model space, an ``ExecutableModelSpace`` (``BenchmarkModelSpace`` included), a
    ``simplify()`` dict, or ``'nb201'`` / ``'nb101'`` for those benchmarks' default spaces.
    """
    if isinstance(space, SpaceAdapter):
        return space
    if isinstance(getattr(space, 'space_adapter', None), SpaceAdapter):  # a space that carries its own (restricted)
        return space.space_adapter
    from . import nb101_adapter, nb201_adapter  # noqa: F401  (they register themselves)
    if isinstance(space, str):
        for cls in reversed(_REGISTRY):
            if cls.name == space and cls is not ModelSpaceAdapter:
                return cls.default()
        space = load_space(space)
    simplified = _simplified(space)
    for cls in reversed(_REGISTRY):
        if cls.handles(simplified):
            return cls(simplified, _network_space(space))
    raise AssertionError('ModelSpaceAdapter handles every space')  # pragma: no cover


def load_space(spec: str) -> Any:
    """The model space named ``PACKAGE.MODULE:CLASS`` or ``path/to/file.py:CLASS`` (built with no arguments; the
    current folder is importable). One-line ``ValueError`` for a bad string, an import failure or a class that is
    not a space. A file path lets processes started elsewhere (NNI's tuners run in the experiment's log folder)
    load the space."""
    import importlib
    import importlib.util
    import os
    import sys
    module_name, sep, attr = spec.rpartition(':')
    if not sep or not module_name or not attr or (':' in module_name and not module_name.endswith('.py')):
        raise ValueError(f'--space {spec!r}: give nb201, nb101, PACKAGE.MODULE:CLASS or path/to/file.py:CLASS '
                         '(an NNI ModelSpace)')
    if os.getcwd() not in sys.path and '' not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        if module_name.endswith('.py'):
            path = os.path.abspath(os.path.expanduser(module_name))
            if not os.path.isfile(path):
                raise FileNotFoundError(f'no file {path}')
            name = os.path.splitext(os.path.basename(path))[0]
            module = sys.modules.get(name)
            if module is None or os.path.abspath(getattr(module, '__file__', '') or '') != path:
                folder = os.path.dirname(path)
                if folder not in sys.path:
                    sys.path.insert(0, folder)  # the file's own imports of its neighbours work, and pickling
                module = importlib.import_module(name)
        else:
            module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - any failure of the user's module is reported in one line
        raise ValueError(f'--space {spec!r}: cannot import {module_name} ({type(err).__name__}: {err})') from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ValueError(f'--space {spec!r}: module {module_name} has no {attr!r}') from None
    from nni.nas.space import BaseModelSpace
    if isinstance(obj, type):
        if not issubclass(obj, BaseModelSpace):
            raise ValueError(f'--space {spec!r}: {attr} is not an NNI ModelSpace (it is a {obj.__name__} class)')
        try:
            obj = obj()
        except Exception as err:  # noqa: BLE001
            raise ValueError(f'--space {spec!r}: {attr}() failed ({type(err).__name__}: {err})') from None
    if not isinstance(obj, BaseModelSpace):
        raise ValueError(f'--space {spec!r}: {attr} is not an NNI ModelSpace (got {type(obj).__name__})')
    return obj


def categorical_choices(simplified: Mapping[str, Any]) -> dict[str, Any]:
    """``{label: Categorical}`` of the space's choices (annotations skipped).

    Raises ``ValueError`` naming the first label that is not a categorical choice, and when there is none.
    """
    from nni.mutable import Categorical, CategoricalMultiple, MutableAnnotation
    choices = {}
    for label, mutable in simplified.items():
        if isinstance(mutable, MutableAnnotation):
            continue
        if not isinstance(mutable, Categorical) or isinstance(mutable, CategoricalMultiple):
            raise ValueError(f'label {label!r} is a {type(mutable).__name__}, not a categorical choice; this '
                             'search needs categorical choices (LayerChoice, nni.choice)')
        choices[label] = mutable
    if not choices:
        raise ValueError('the space has no categorical choice to search')
    return choices


def encode_sample(sample: Mapping[str, Any], labels) -> str:
    """The text of a sample: a JSON object of its values in label order (keys of generic benchmark tables)."""
    try:
        return json.dumps({label: sample[label] for label in labels}, separators=(', ', ': '))
    except KeyError as err:
        raise ValueError(f'sample {dict(sample)} lacks label {err.args[0]!r}') from None
    except TypeError as err:
        raise ValueError(f'sample {dict(sample)} has a value that is not plain JSON ({err})') from None


_ADDRESS = re.compile(r'\b0x[0-9a-fA-F]{4,}\b')


def _class_name(cls: type) -> str:
    """``module.QualifiedName`` of a class, the module as its last dotted part (the same whether a file is
    imported by path or as part of a package) and a script's ``__main__`` by its file name."""
    module = cls.__module__
    if module in ('__main__', '__mp_main__'):
        module = Path(getattr(sys.modules.get(module), '__file__', None) or module).stem
    return f'{module.rpartition(".")[2]}.{cls.__qualname__}'


def _stable_text(value: Any) -> str:
    """Text of a constructor argument that is the same in every process: plain values and containers by value,
    classes and functions by name, tensors and arrays by a hash of their contents, modules by their structure
    (``repr``: not their weights); any other object by its ``repr``, unless that shows a memory address, then by
    its class alone (two such objects of one class give the same text)."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return f'{type(value).__name__}[{", ".join(_stable_text(v) for v in value)}]'
    if isinstance(value, (set, frozenset)):
        return f'{type(value).__name__}{{{", ".join(sorted(_stable_text(v) for v in value))}}}'
    if isinstance(value, Mapping):
        items = sorted(f'{_stable_text(k)}: {_stable_text(v)}' for k, v in value.items())
        return f'{type(value).__name__}{{{", ".join(items)}}}'
    if isinstance(value, type) or inspect.isroutine(value):
        return f'{getattr(value, "__module__", "")}.{getattr(value, "__qualname__", getattr(value, "__name__", ""))}'
    if hasattr(value, '__array__') and hasattr(value, 'shape') and hasattr(value, 'dtype'):  # numpy, torch
        try:
            array = np.ascontiguousarray(value.detach().cpu() if hasattr(value, 'detach') else value)
            digest = short_hash(array.tobytes())
        except (TypeError, RuntimeError, ValueError):  # a dtype numpy lacks (bfloat16): its shape alone
            digest = 'unhashed'
        return f'{type(value).__name__}({value.dtype}, {tuple(value.shape)}, {digest})'
    text = repr(value)
    return _class_name(type(value)) if _ADDRESS.search(text) else text


def _constructor_text(space: Any) -> str:
    """The arguments ``space`` was constructed with (:func:`_stable_text`), defaults of its signature filled in."""
    args, kwargs = getattr(space, 'trace_args', None), getattr(space, 'trace_kwargs', None)
    if args is None and kwargs is None:
        return 'untraced'
    args, kwargs = list(args or ()), dict(kwargs or {})
    if not args:  # NNI turns positional arguments into keywords where it can: then defaults line up by name
        init = getattr(type(space), '_init_wrapped', None) or type(space).__init__
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            parameters = []
        for param in parameters:
            if param.default is not param.empty and param.name not in kwargs:
                kwargs[param.name] = param.default
    return f'{_stable_text(args)}|{_stable_text(kwargs)}'


class SpaceAdapter:
    """What the package needs to know about one kind of space (see the module docstring)."""

    #: Short name of the kind (``--space NAME`` for the benchmark kinds).
    name: str = ''

    def __init__(self, simplified: Mapping[str, Any], network_space: Any = None):
        self.simplified = dict(simplified)
        #: The ``ModelSpace`` networks are built from (None for a bare benchmark space).
        self.network_space = network_space

    @classmethod
    def handles(cls, simplified: Mapping[str, Any]) -> bool:
        """Whether the simplified space is of this kind."""
        raise NotImplementedError

    @classmethod
    def default(cls) -> 'SpaceAdapter':
        """The adapter of this kind's own benchmark space."""
        raise ValueError(f'the {cls.name or cls.__name__} kind has no default space')

    @property
    def labels(self) -> tuple[str, ...]:
        """Labels of the searched choices, in ``simplify()`` order (annotations excluded)."""
        from nni.mutable import MutableAnnotation
        return tuple(k for k, m in self.simplified.items() if not isinstance(m, MutableAnnotation))

    def choices(self) -> dict[str, Any]:
        """``{label: Categorical}``; ``ValueError`` naming a label that is not categorical."""
        return categorical_choices(self.simplified)

    def search_space(self) -> dict[str, dict]:
        """The space in NNI's HPO format (``{label: {"_type": "choice", "_value": [...]}}``): an ``nnictl``
        config's ``searchSpace``, for the project's tuners with ``classArgs: {space: ...}``."""
        return {label: {'_type': 'choice', '_value': list(c.values)} for label, c in self.choices().items()}

    def benchmark_space(self):
        """The simplified space as a ``SlimBenchmarkSpace`` (what ``BenchmarkModelSpace`` samples from)."""
        from nni.nas.benchmark.space import SlimBenchmarkSpace
        return SlimBenchmarkSpace(self.choices())

    #: Column name of :meth:`describe`'s text in result files.
    describe_column: str = 'sample'

    def describe(self, sample: Mapping[str, Any]) -> str:
        """Text naming the sample's architecture (query histories, result files)."""
        return encode_sample(sample, self.labels)

    def population_size(self) -> int:
        """How many samples :meth:`distinct_samples` draws from: the space's architectures (constraints ignored),
        or the rows of the table a search is restricted to."""
        from .generic import SpaceEncoder
        return SpaceEncoder(self.choices()).size()

    def distinct_samples(self, n: int, seed: int) -> list[dict[str, Any]]:
        """``n`` distinct samples drawn uniformly with ``seed`` (constraints ignored)."""
        from .generic import SpaceEncoder
        encoder = SpaceEncoder(self.choices())
        cards = encoder.cardinalities()
        total = encoder.size()
        if not 1 <= n <= total:
            raise ValueError(f'the sample size must be in 1..{total}, got {n}')
        picks = np.random.default_rng(seed).choice(total, size=n, replace=False)
        return [encoder.decode_indices([int(i) for i in np.unravel_index(int(p), cards)]) for p in picks]

    def all_samples(self, limit: int = 100_000) -> list[dict[str, Any]]:
        """Every architecture of the space (constraints ignored); ``ValueError`` beyond ``limit`` of them."""
        from .generic import SpaceEncoder
        encoder = SpaceEncoder(self.choices())
        if encoder.size() > limit:
            raise ValueError(f'the space has {encoder.size():,} architectures; scoring all of them is offered up to '
                             f'{limit:,}')
        return [encoder.decode_indices(list(ids))
                for ids in itertools.product(*(range(c) for c in encoder.cardinalities()))]

    def function_representative(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The sample scored in place of ``sample`` by proxies of the network function: the same for every
        sample whose network computes the same function up to the draw of its weights. Default: itself."""
        return dict(sample)

    def cost_representative(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The sample scored in place of ``sample`` for ``params``/``flops`` (which count every layer, dead
        ones too): one with the same counts. Default: itself."""
        return dict(sample)

    def project(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The sample a search evaluates for a proposal: itself, unless the search is restricted to a table
        (:func:`~nni_rank.spaces.restricted.restrict_to_table`), where it is the nearest row not queried yet."""
        return dict(sample)

    def open_rows(self) -> list[dict[str, Any]] | None:
        """The samples a search restricted to a table may still propose (rows not queried yet); None when the
        search is not restricted (every sample of the space)."""
        return None

    def arch(self, sample: Mapping[str, Any]) -> Hashable:
        """Key of the sample in a benchmark table of this space."""
        return self.describe(sample)

    def network(self, sample: Mapping[str, Any], seed: int = 0, num_classes: int = 10, **geometry):
        """A freshly initialised network of ``sample`` (weights seeded by ``seed``); ``geometry``: a kind's own
        size options (NB201: ``channels``, ``cells_per_stage``)."""
        raise NotImplementedError

    def network_cost(self, sample: Mapping[str, Any], input_shape: tuple, num_classes: int = 10,
                     **geometry) -> tuple[float, float]:
        """``(MFLOPs, M params)`` of ``sample``'s network for one input of ``input_shape`` (C, H, W)."""
        from ..proxies import compute_proxies
        cost = compute_proxies(self.network(sample, num_classes=num_classes, **geometry), None, ['flops', 'params'],
                               input_shape=tuple(input_shape))
        return cost['flops'], cost['params']

    def proxy_source(self, names, *, data='digits', batch_size: int = 64, seed: int = 0, cache_dir=None,
                     device: str = 'cpu', table=None):
        """An object with ``scores(samples) -> (n, len(names))`` raw proxy values of samples of this space."""
        if table is not None:
            raise ValueError(f'proxy tables are read for NAS-Bench-201 cells only, not for {self!r}')
        from ..proxies.sample_store import SampleProxyStore
        return SampleProxyStore.shared(self, names, data=data, batch_size=batch_size, seed=seed,
                                       cache_dir=cache_dir, device=device)

    def ensemble_calibration(self):
        """Quantile tables ``zc_ensemble`` scores this space's samples with; None (default): made from a seeded
        sample of the space (:mod:`nni_rank.proxies.calibration`)."""
        return None

    def open_table(self, path, default_dataset: str = 'cifar10'):
        """The benchmark table at ``path`` for this space (a CSV / JSON keyed by its labels)."""
        from ..benchmarks.label_table import LabelTable
        return LabelTable(path, self.choices(), default_dataset=default_dataset)

    def table_candidates(self, table) -> list:
        """NAR candidates of every architecture of a table of this space, in the table's order."""
        return [table.sample(key) for key in table.archs()]

    def candidates(self, paths: bool = True):
        """NAR's codec of this space's architectures (:class:`SampleCandidates` unless a kind has its own)."""
        return SampleCandidates(self.simplified)

    def fingerprint(self) -> str:
        """A short hash of the labels and their values (names on-disk caches of this space)."""
        return short_hash(self._choices_text())

    def _choices_text(self) -> str:
        return json.dumps({k: [repr(v) for v in getattr(m, 'values', [])] for k, m in self.simplified.items()})

    def population_fingerprint(self) -> str:
        """Names the population :meth:`distinct_samples` draws from (what a calibration on the space was made
        on): the space itself, unless a search is restricted to a table."""
        return self.fingerprint()

    def __repr__(self) -> str:
        return f'{type(self).__name__}({len(self.labels)} labels)'


@register_adapter
class ModelSpaceAdapter(SpaceAdapter):
    """Any NNI model space: samples are ``{label: value}``, networks come from the user's ``ModelSpace``."""

    name = 'generic'

    @classmethod
    def handles(cls, simplified: Mapping[str, Any]) -> bool:
        return True

    def fingerprint(self) -> str:
        """A short hash of the labels and their values and of what the networks are built from: the class of the
        user's ``ModelSpace`` (module and qualified name) and the arguments it was constructed with (NNI's
        ``trace_args`` / ``trace_kwargs``, the signature's defaults filled in, so ``Space()`` and
        ``Space(width=<its default>)`` share caches). An argument counts by value when it is a plain value or
        container, by name when a class or function, by a hash of its contents when a tensor or array, by its
        structure (``repr``, not its weights) when a module, else by its ``repr`` unless that shows a memory
        address, then by its class alone. Not covered: the class's code (edit it, and clear the cache) and what an
        argument's text leaves out. A bare benchmark space (no ``ModelSpace``) is its labels and values alone."""
        space = self.network_space
        if space is None:
            return super().fingerprint()
        if '_fingerprint' not in self.__dict__:  # once per adapter (stores ask on every lookup)
            text = f'{self._choices_text()}|{_class_name(type(space))}|{_constructor_text(space)}'
            self._fingerprint = short_hash(text)
        return self._fingerprint

    def network(self, sample: Mapping[str, Any], seed: int = 0, num_classes: int = 10, **geometry):
        """The model of ``sample``: the space re-instantiated under NNI's ``model_context`` (only the
        chosen candidates are kept, no deep copy; ``model_space.freeze`` when the space cannot be re-created).
        The space defines its own classes and sizes (``num_classes`` is not applied; ``geometry`` is refused)."""
        if geometry:
            raise ValueError(f'{", ".join(sorted(geometry))}: NAS-Bench-201 size options; your space builds its own '
                             'network (leave them out)')
        import torch
        from nni.nas.space import model_context
        space = self.network_space
        if space is None:
            raise ValueError('this space has no network to build (a bare benchmark space): give the ModelSpace')
        sample = dict(sample)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if getattr(space, 'trace_args', None) is not None:
                with model_context(sample):
                    return type(space)(*space.trace_args, **space.trace_kwargs)
            return space.freeze(sample)


class SampleCandidates:
    """NAR's view of any space: candidates are sample dicts; statistics over labels with finitely many choices.

    Labels with continuous values (unquantized numericals) are drawn at random, or copied from a random
    top-tier member half of the time. Constraints (annotations) are checked with ``SpaceEncoder.is_valid``.
    """

    def __init__(self, space: Mapping[str, Any]):
        from ..predictors import GenericEncoder
        from .generic import SpaceEncoder
        self.space = SpaceEncoder(space)
        self.encoder = GenericEncoder(self.space)
        cards = self.space.cardinalities()
        self._finite = [i for i, c in enumerate(cards) if c is not None]
        self.cardinalities = [cards[i] for i in self._finite]
        if not self.cardinalities:
            raise ValueError('NAR needs at least one label with finitely many choices (categorical or quantized)')
        self._labels = self.space.labels
        # one single-label codec per finite label, for its choice index <-> value
        self._codecs = [SpaceEncoder({self._labels[i]: space[self._labels[i]]}) for i in self._finite]

    def random(self, n: int, rng) -> list[dict]:
        return [self.space.random_sample(rng, weighted=False) for _ in range(n)]

    def from_indices(self, rows, rng=None, donors=()) -> list[dict]:
        rng = rng if rng is not None else np.random.default_rng(0)
        out = []
        for row in np.asarray(rows):
            base = self.space.random_sample(rng, weighted=False)
            if donors and len(self._finite) < len(self._labels) and rng.random() < 0.5:
                donor = donors[int(rng.integers(len(donors)))]
                base = {k: donor[k] for k in self._labels}
            for codec, i in zip(self._codecs, row):
                base.update(codec.decode_indices([int(i)]))
            out.append(base)
        return out

    def indices(self, cands):
        rows = [[int(codec.encode_indices({codec.labels[0]: c[codec.labels[0]]})[0]) for codec in self._codecs]
                for c in cands]
        return np.array(rows, dtype=np.int64).reshape(-1, len(self._codecs))

    def features(self, cands):
        return self.encoder.encode(cands)

    def key(self, cand: dict) -> Any:
        return self.encoder.key(cand)

    def neighbours(self, cand: dict) -> list[dict]:
        return self.space.neighbours(cand)

    def valid(self, cand: dict) -> bool:
        return self.space.is_valid(cand)

    def to_sample(self, cand: dict) -> dict[str, Any]:
        return dict(cand)

    def from_sample(self, sample: Mapping[str, Any]) -> dict:
        return {k: sample[k] for k in self._labels}
