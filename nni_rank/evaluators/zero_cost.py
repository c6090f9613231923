"""NNI evaluators that score a sampled model with zero-cost proxies instead of training it.

The final result is ``{'default': <chosen proxy>, <every requested proxy>...}``, so a zero-cost
search runs through ``NasExperiment`` and NNI's web UI lists every score. A proxy that is undefined
for a model (NaN, e.g. a cell with no path from input to output) is left out of the dict, counted
in ``undefined_proxies``, and the ``default`` becomes :data:`UNDEFINED_SCORE` so that every strategy
ranks the model last (JSON, and so NNI's manager, has no NaN or infinity).
"""
from __future__ import annotations

import math
import os
import warnings
from typing import Any, Iterable, Mapping

import nni
from nni.mutable import Sample
from nni.nas.evaluator import Evaluator

from ..proxies import PROXIES, ProxyScorer, ProxyWarning, compute_proxies, proxy_batch, resolve_names
from .benchmark import SampleEvaluator

#: ``default`` reported for a model whose chosen proxy is undefined: below any real proxy value.
UNDEFINED_SCORE = -1e300

__all__ = ['ZeroCostEvaluator', 'ModelZeroCostEvaluator', 'UNDEFINED_SCORE', 'proxy_report']


def proxy_report(values: dict[str, float], default: str) -> dict[str, float]:
    """NNI final-result dict from proxy values: finite ones as keys, ``default`` signed to maximise."""
    finite = {k: float(v) for k, v in values.items() if math.isfinite(v)}
    value = values[default]
    sign = 1.0 if PROXIES[default].higher_is_better else -1.0
    result = {'default': sign * value if math.isfinite(value) else UNDEFINED_SCORE, **finite}
    undefined = [k for k, v in values.items() if not math.isfinite(v)]
    if undefined:
        result['undefined_proxies'] = float(len(undefined))
        warnings.warn(f'proxies undefined for this model (ranked last): {", ".join(undefined)}', ProxyWarning,
                      stacklevel=3)
    return result


def _names_and_default(proxies, default) -> tuple[list[str], str]:
    names = resolve_names(proxies.split(',') if isinstance(proxies, str) else proxies)
    default = resolve_names(default)[0] if default else names[0]
    if default not in names:
        names.append(default)
    return names, default


@nni.trace
class ZeroCostEvaluator(SampleEvaluator):
    """Score sampled models with zero-cost proxies from the sample alone (cached per architecture).

    NAS-Bench-201 cells (``space='nb201'``, NNI's ``NasBench201()`` with any label scope, ``BenchmarkModelSpace``)
    use the fast builder; with ``space='PACKAGE.MODULE:CLASS'`` or ``adapter_for(model_space)`` the space's own
    networks are built and scores cached by sample. :class:`ModelZeroCostEvaluator` scores the model NNI builds.

    Parameters
    ----------
    proxies
        Proxies to report (names or comma-separated).
    default
        The proxy reported as ``default`` (what strategies maximise); the first one when None.
    data
        ``'digits'`` (embedded) or a local CIFAR folder / ``.bin`` for the data-dependent proxies.
    batch_size, seed
        Minibatch size; seed of the minibatch and of every network's initialisation.
    cache_dir
        On-disk score cache (see :class:`~nni_rank.proxies.ProxyStore`).
    device
        Where networks are scored (``'cuda'`` on a GPU machine).
    space
        ``'nb201'`` (default), ``'PACKAGE.MODULE:CLASS'`` or ``adapter_for(model_space)``.
    """

    def __init__(self, proxies: str | Iterable[str] = 'synflow', default: str | None = None,
                 data: str | os.PathLike = 'digits', batch_size: int = 64, seed: int = 0,
                 cache_dir: str | os.PathLike | None = None, device: str = 'cpu', space: Any = 'nb201'):
        super().__init__()
        self.space = space
        self.names, self.default = _names_and_default(proxies, default)
        self.scorer = ProxyScorer(self.names, data=str(data), batch_size=batch_size, seed=seed,
                                  cache_dir=cache_dir, device=device, space=self.adapter)

    def evaluate(self, sample: Sample, extra: Mapping[str, Any] | None = None) -> float:
        row = self.scorer.raw_scores([sample])[0]
        result = proxy_report(dict(zip(self.names, row)), self.default)
        self.report(result, extra)
        return result['default']


@nni.trace
class ModelZeroCostEvaluator(Evaluator):
    """Score the PyTorch model of any NNI model space with zero-cost proxies.

    Same parameters as :class:`ZeroCostEvaluator`; ``batch`` gives an explicit ``(inputs, labels)``
    minibatch that fits the user's model (else one is drawn from ``data``, 3x32x32 images).
    """

    def __init__(self, proxies: str | Iterable[str] = 'synflow', default: str | None = None,
                 data: str | os.PathLike = 'digits', batch_size: int = 64, seed: int = 0,
                 batch=None, device: str = 'cpu'):
        self.names, self.default = _names_and_default(proxies, default)
        self.data, self.batch_size, self.seed, self.device = str(data), batch_size, seed, device
        self._batch = batch

    def evaluate(self, model) -> float:
        if self._batch is None:
            self._batch, _, _ = proxy_batch(self.data, self.batch_size, self.seed)
        values = compute_proxies(model, self._batch, self.names, seed=self.seed, device=self.device, warn=False)
        result = proxy_report(values, self.default)
        nni.report_final_result(result)
        return result['default']
