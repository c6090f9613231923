"""alpha-NAS as an ``nnictl`` tuner: NAS-Bench-201 search spaces (six ``choice`` edges ``0_1`` ... ``2_3``), or the
user's own ``ModelSpace`` named by the ``space`` classArg (``/abs/path/file.py:CLASS``, see
:mod:`nni_rank.tuners.space`), searched through the properties of its traced networks.

Config (after ``nnictl algo register --meta`` with ``className: nni_rank.tuners.alpha_nas_tuner.AlphaNasTuner``)::

    tuner:
      name: AlphaNAS
      classArgs: {optimize_mode: maximize, population_size: 20, sample_size: 5, seed: 0}

State is keyed on the parameters a result comes back with (not on parameter ids, which NNI can mix up
with concurrent trials and restarts on resume); ``import_data`` rebuilds the population on resume.
"""
from __future__ import annotations

import logging
from typing import Any

import nni
from nni.tuner import Tuner
from nni.utils import ClassArgsValidator, extract_scalar_reward

from .args import ClassArgs, init_args, use_threads
from .space import check_space_arg

# The search (torch, NNI's strategies, the property table) is imported on first use, not here: NNI's
# dispatcher must connect to the manager within 10 s of starting, and importing the tuner class is on
# that path.

__all__ = ['AlphaNasTuner', 'AlphaNasClassArgsValidator', 'validate_class_args']

_logger = logging.getLogger(__name__)


class AlphaNasTuner(Tuner):
    """Property-guided regularized evolution (see :mod:`nni_rank.strategies.alpha_nas`) as an NNI tuner.

    ``threads``: torch threads of the tuner process (default 1; None: leave torch's setting). ``space``:
    ``'nb201'`` or the user's ``ModelSpace`` (``init`` is uniform there).
    """

    def __init__(self, optimize_mode: str = 'maximize', population_size: int = 20, sample_size: int = 5,
                 max_changes: int | None = None, init: str = 'abstract', threads: int | None = 1,
                 seed: int | None = None, space: str = 'nb201'):
        validate_class_args(**init_args(locals()))
        self.optimize_mode = optimize_mode
        self.space = space
        self._generic = space != 'nb201'
        self._search_args = (population_size, sample_size, max_changes, init, seed)
        self._search = None
        self.threads = threads
        self._labels: dict[str, str] | None = None
        self._values: dict[str, list] = {}
        self._pending: dict[int, Any] = {}
        self._imported: list[dict] = []

    @property
    def search(self):
        """The :class:`~nni_rank.strategies.alpha_nas.PropertyGuidedEvolution` (built on first use)."""
        if self._search is None:
            from ..strategies.alpha_nas import PropertyGuidedEvolution
            population_size, sample_size, max_changes, init, seed = self._search_args
            self._search = PropertyGuidedEvolution(population_size, sample_size, max_changes, init=init, seed=seed)
        return self._search

    def update_search_space(self, search_space: dict[str, Any]) -> None:
        use_threads(self.threads)
        if self._generic:
            from ..properties.generic import SpaceProperties
            from ..strategies.alpha_nas_any import SampleEvolution
            from .space import space_choices
            adapter, choices = space_choices('AlphaNasTuner', search_space, self.space)
            population_size, sample_size, max_changes, _, seed = self._search_args
            self._search = SampleEvolution(SpaceProperties(adapter, choices=choices), population_size, sample_size,
                                           max_changes, seed=seed)
            self._labels = {label: label for label in choices}
            imported, self._imported = self._imported, []
            self.import_data(imported)
            return
        for label, spec in search_space.items():
            if not isinstance(spec, dict) or spec.get('_type') != 'choice':
                raise ValueError(f'AlphaNasTuner needs a NAS-Bench-201 search space of six "choice" edges; '
                                 f'{label!r} is {spec!r} (your own space: classArg space)')
        from ..strategies.alpha_nas import nb201_labels
        self._labels = nb201_labels(search_space)
        self._values = {edge: list(search_space[label]['_value']) for edge, label in self._labels.items()}

    def _params(self, arch) -> dict[str, Any]:
        if self._generic:
            return dict(arch)
        from ..spaces.nb201 import EDGE_LABELS, NNI_OPS, OPS
        assert self._labels is not None
        return {self._labels[e]: op if op in self._values[e] else NNI_OPS[OPS.index(op)]
                for e, op in zip(EDGE_LABELS, arch.ops)}

    def _reward(self, value: Any) -> float:
        reward = extract_scalar_reward(value)
        return reward if self.optimize_mode == 'maximize' else -reward

    def generate_parameters(self, parameter_id: int, **kwargs) -> dict[str, str]:
        if self._labels is None:
            raise ValueError('AlphaNasTuner: update_search_space must be called before generate_parameters')
        from ..strategies.alpha_nas import SearchExhausted
        try:
            arch = self.search.propose()
        except SearchExhausted as err:
            raise nni.NoMoreTrialError(str(err)) from None
        self._pending[parameter_id] = arch
        return self._params(arch)

    def _arch(self, parameters: dict):
        if self._generic:
            return {label: parameters[label] for label in self._labels}
        from ..spaces.nb201 import NB201Arch
        return NB201Arch.from_sample(parameters)

    def receive_trial_result(self, parameter_id: int, parameters: dict, value: Any, **kwargs) -> None:
        self._pending.pop(parameter_id, None)
        self.search.tell(self._arch(parameters), self._reward(value))

    def trial_end(self, parameter_id: int, success: bool, **kwargs) -> None:
        arch = self._pending.pop(parameter_id, None)
        if not success and arch is not None:
            _logger.info('trial of %s failed; it stays out of the population', arch)

    def import_data(self, data: list[dict]) -> None:
        """Replay finished trials (``nnictl resume`` / ``experiment.import_data``): ``{parameter, value}`` each."""
        if self._generic and self._search is None:  # before the search space arrived
            self._imported.extend(data)
            return
        for record in data:
            try:
                arch = self._arch(record['parameter'])
            except (KeyError, ValueError, TypeError) as err:
                _logger.warning('import_data: skipping %r (%s)', record, err)
                continue
            self.search.tell(arch, self._reward(record['value']))


def validate_class_args(**class_args) -> dict:
    """:class:`AlphaNasTuner`'s arguments, defaults filled in; :class:`ValueError` for the first bad one."""
    args = ClassArgs(AlphaNasTuner, class_args)
    args.check_common()
    args.check_sizes()
    args.check_int('max_changes', low=1, optional=True)
    args.check_choice('init', ('abstract', 'random'))
    check_space_arg('AlphaNasTuner', args['space'])
    return args


class AlphaNasClassArgsValidator(ClassArgsValidator):
    """What ``nnictl`` runs on ``tuner: {name: AlphaNAS, classArgs: ...}`` (registered by ``nni-rank register``)."""

    def validate_class_args(self, **kwargs) -> None:
        validate_class_args(**kwargs)
