"""NAR as an ``nni.tuner.Tuner`` for the ``nnictl`` path (search space in NNI's HPO JSON format).

``config.yml``::

    tuner:
      className: nni_rank.tuners.NARTuner
      codeDirectory: .
      classArgs: {optimize_mode: maximize, seed: 0}

(``codeDirectory`` is required by NNI for a custom class; the package only has to be importable), or
register it once (``nnictl algo register --meta``, ``className: nni_rank.tuners.NARTuner``) and use
``name: NAR``. Supported search-space types:
``choice`` (flat lists), ``randint``, and the ``(q)uniform`` / ``(q)loguniform`` / ``(q)normal`` family.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import nni
from nni.tuner import Tuner
from nni.utils import ClassArgsValidator, extract_scalar_reward

from .args import ClassArgs, init_args, use_threads
from .reports import imported_results, with_reports
from .space import check_space_arg

__all__ = ['NARTuner', 'NARClassArgsValidator', 'mutables_from_search_space', 'validate_class_args']

_logger = logging.getLogger(__name__)


def mutables_from_search_space(search_space: dict) -> dict[str, Any]:
    """NNI HPO search space (``{name: {'_type': ..., '_value': ...}}``) -> ``{name: nni.mutable}``."""
    from nni.mutable import Categorical, Numerical
    if not isinstance(search_space, dict) or not search_space:
        raise ValueError(f'search space must be a non-empty dict {{name: {{"_type": ..., "_value": ...}}}}, '
                         f'got {search_space!r}')
    out: dict[str, Any] = {}
    for name, spec in search_space.items():
        if not isinstance(spec, dict) or '_type' not in spec or '_value' not in spec:
            raise ValueError(f'search space entry {name!r} must be {{"_type": ..., "_value": ...}}, got {spec!r}')
        kind, value = spec['_type'], spec['_value']
        if kind == 'choice':
            if any(isinstance(v, dict) and '_name' in v for v in value):
                raise ValueError(f'{name!r}: nested choices are not supported by NARTuner; flatten the space')
            out[name] = Categorical(list(value), label=name)
        elif kind == 'randint':
            low, high = int(value[0]), int(value[1])
            if high <= low:
                raise ValueError(f'{name!r}: randint needs lower < upper, got {value}')
            out[name] = Categorical(list(range(low, high)), label=name)
        elif kind in ('uniform', 'quniform', 'loguniform', 'qloguniform'):
            low, high = float(value[0]), float(value[1])
            quantize = float(value[2]) if kind.startswith('q') else None
            out[name] = Numerical(low, high, quantize=quantize, log_distributed='log' in kind, label=name)
        elif kind in ('normal', 'qnormal', 'lognormal', 'qlognormal'):
            mu, sigma = float(value[0]), float(value[1])
            quantize = float(value[2]) if kind.startswith('q') else None
            out[name] = Numerical(mu=mu, sigma=sigma, quantize=quantize, log_distributed='log' in kind, label=name)
        else:
            raise ValueError(f'{name!r}: search space type {kind!r} is not supported by NARTuner; use choice, '
                             'randint, (q)uniform, (q)loguniform or (q)normal')
    return out


class NARTuner(Tuner):
    """Tier-statistics sampling ranked by NAR, one parameter set per trial.

    Parameters are those of :class:`~nni_rank.strategies.nar.NARSearch` plus ``optimize_mode``
    (``'maximize'`` for accuracy), ``max_trials`` (raise ``NoMoreTrialError`` after that many
    parameter sets; None: until the space is exhausted), ``device`` for the predictor, and
    ``report_prediction``: add the tier the predictor put each candidate in (0 = top; none for the random
    initial sample) to its parameters as ``_report_predicted_tier``; ``python -m nni_rank.trial`` reports
    it as ``predicted_tier`` in the final result (see :mod:`nni_rank.tuners.reports`). ``proxies``
    (``'synflow,naswot'``), ``proxy_table``, ``proxy_data``, ``proxy_cache``: zero-cost scores of NAS-Bench-201
    cells as extra predictor inputs, read from a table or computed, and the initial samples taken from
    the proxies' best of ``warm_up`` (default 1,000) random cells (with ``proxy_table`` any of its columns is a
    proxy name; ``proxy_bins``: each proxy as that many quantile bins, 0 = raw); ``init_samples`` defaults to 8 with
    proxies and 16 without (see :func:`~nni_rank.strategies.nar.nar_strategy_factory`). ``space``: the user's own
    ``ModelSpace`` (``/abs/path/file.py:CLASS`` or ``PACKAGE.MODULE:CLASS``, see :mod:`nni_rank.tuners.space`) whose
    networks the proxies score (None: NAS-Bench-201 cells). ``threads``: torch threads of the tuner process
    (default 1; None: leave torch's setting).
    """

    def __init__(self, optimize_mode: str = 'maximize', init_samples: int | None = None, batch_size: int = 4,
                 pool_size: int = 1000, stats_samples: int = 1000, smoothing: float = 0.5, num_tiers: int = 5,
                 max_trials: int | None = None, device: str = 'cpu', report_prediction: bool = False,
                 proxies: str | None = None, proxy_table: str | None = None, proxy_data: str = 'digits',
                 proxy_cache: str | None = None, warm_up: int | None = None, threads: int | None = 1,
                 seed: int | None = None, space: str | None = None, proxy_bins: int = 0):
        validate_class_args(**init_args(locals()))
        self.space = space
        self.optimize_mode = optimize_mode
        self.max_trials = max_trials
        self.report_prediction, self.threads = report_prediction, threads
        self._search_args = dict(init_samples=init_samples, batch_size=batch_size, pool_size=pool_size,
                                 stats_samples=stats_samples, smoothing=smoothing, num_tiers=num_tiers,
                                 predictor_args={'device': device}, seed=seed)
        self._proxy_args = dict(proxies=proxies, proxy_table=proxy_table, proxy_data=proxy_data,
                                proxy_cache=proxy_cache, warm_up=warm_up, proxy_bins=proxy_bins)
        self.search = None  # NARSearch, built when the search space arrives
        self._params: dict[int, Any] = {}  # parameter id -> candidate
        self._imported: list[tuple[dict, float | None]] = []  # data imported before the search space arrived
        self._generated = 0

    # ------------------------------------------------------------------ NNI tuner API
    def update_search_space(self, search_space: dict) -> None:
        from ..strategies.nar import PROXY_DEFAULTS, NARSearch, make_adapter, proxy_features  # heavy: after connecting
        use_threads(self.threads)
        if self.space is not None:
            from .space import space_choices
            space_choices('NARTuner', search_space, self.space)
        adapter = make_adapter(mutables_from_search_space(search_space))
        p = self._proxy_args
        feature_fn = proxy_features(p['proxies'], p['proxy_table'], p['proxy_data'], p['proxy_cache'],
                                    seed=self._search_args['seed'] or 0)
        if feature_fn is not None and self.space is not None:
            feature_fn.bind(self.space)
        args = dict(self._search_args)
        if feature_fn is not None:  # the factory's defaults with proxies: warm-up start, 8 initial samples
            args['feature_fn'] = feature_fn
            args['warm_up'] = PROXY_DEFAULTS['warm_up'] if p['warm_up'] is None else p['warm_up']
            args['proxy_bins'] = p['proxy_bins']
            if args['init_samples'] is None:
                args['init_samples'] = PROXY_DEFAULTS['init_samples']
        elif args['init_samples'] is None:
            args['init_samples'] = 16
        self.search = NARSearch(adapter, **args)
        for params, value in self._imported:
            self._tell(params, value)
        self._imported = []

    def generate_parameters(self, parameter_id: int, **kwargs) -> dict:
        if self.search is None:
            raise RuntimeError('NARTuner: update_search_space must be called before generate_parameters')
        if self.max_trials is not None and self._generated >= self.max_trials:
            raise nni.NoMoreTrialError(f'NARTuner: max_trials={self.max_trials} reached')
        cand = self.search.ask()
        if cand is None:
            raise nni.NoMoreTrialError('NARTuner: every architecture of the space has been proposed')
        self._params[parameter_id] = cand
        self._generated += 1
        params = self.search.adapter.to_sample(cand)
        tier = self.search.predicted_tier(cand) if self.report_prediction else None
        return params if tier is None else with_reports(params, predicted_tier=tier)

    def receive_trial_result(self, parameter_id: int, parameters: dict, value, **kwargs) -> None:
        reward = extract_scalar_reward(value)
        cand = self._params.pop(parameter_id, None)
        if parameters:  # the parameters that came with the result win over the id (NNI issue 5726)
            cand = self.search.adapter.from_sample(parameters)
        if cand is None:
            _logger.warning('NARTuner: result for unknown parameter id %s ignored', parameter_id)
            return
        self.search.tell(cand, self._signed(reward))

    def trial_end(self, parameter_id: int, success: bool, **kwargs) -> None:
        cand = self._params.pop(parameter_id, None)
        if not success and cand is not None and self.search is not None:
            self.search.tell(cand, None)  # failed: never proposed again

    def import_data(self, data: list[dict]) -> None:
        """Replay finished trials (``nnictl resume`` / ``experiment.import_data``): ``[{parameter, value}, ...]``."""
        for params, reward in imported_results(data):
            if self.search is None:
                self._imported.append((params, reward))
            else:
                self._tell(params, reward)

    # ------------------------------------------------------------------ helpers
    def _tell(self, params: dict, reward: float | None) -> None:
        try:
            cand = self.search.adapter.from_sample(params)
        except (KeyError, ValueError) as err:
            _logger.warning('NARTuner: imported parameters %s do not fit the search space (%s); skipped', params, err)
            return
        self.search.tell(cand, None if reward is None else self._signed(reward))

    def _signed(self, reward: float) -> float:
        reward = float(reward)
        if math.isnan(reward):
            return reward
        return reward if self.optimize_mode == 'maximize' else -reward


def validate_class_args(**class_args) -> dict:
    """:class:`NARTuner`'s arguments, defaults filled in; :class:`ValueError` for the first bad one."""
    args = ClassArgs(NARTuner, class_args)
    args.check_common()
    args.check_int('init_samples', low=2, optional=True)
    args.check_int('batch_size', low=1)
    args.check_int('pool_size', low=1)
    args.check_int('stats_samples', low=0)
    args.check_number('smoothing', 0)
    args.check_int('num_tiers', low=2)
    args.check_str('device')
    args.check_bool('report_prediction')
    args.check_int('warm_up', low=0, optional=True)
    args.check_str('proxy_cache', optional=True)
    args.check_int('proxy_bins', low=0)
    if args['proxy_bins'] == 1:
        args._bad('proxy_bins', '0 (off) or an integer >= 2')
    if args['space'] is not None:
        check_space_arg('NARTuner', args['space'])
    if args['proxies'] is not None:
        args.check_proxies('proxies', table='proxy_table', data='proxy_data')
    elif args['proxy_table'] is not None or args['warm_up']:
        args.fail('classArgs proxy_table and warm_up need proxies (zero-cost proxy names, e.g. synflow)')
    elif args['proxy_bins']:
        args.fail('classArg proxy_bins needs proxies (zero-cost proxy names, e.g. synflow)')
    return args


class NARClassArgsValidator(ClassArgsValidator):
    """What ``nnictl`` runs on ``tuner: {name: NAR, classArgs: ...}`` (registered by ``nni-rank register``)."""

    def validate_class_args(self, **kwargs) -> None:
        validate_class_args(**kwargs)
