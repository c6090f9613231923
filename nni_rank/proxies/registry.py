"""Names and metadata of the zero-cost proxies this package computes.

Every proxy is a scalar computed from a freshly initialised network; :data:`PROXIES` says whether it
needs data (a real training minibatch) and which direction is better. All of them are used as
"higher is better" by their papers on NAS-Bench-201 (``grasp`` included: the zero-cost paper ranks
networks by the signed sum of ``-W * Hg``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class ProxyInfo:
    """Metadata of one proxy."""

    name: str
    data_dependent: bool        #: needs a real minibatch (images and, for ``needs_labels``, labels)
    needs_labels: bool          #: uses the labels through the loss
    higher_is_better: bool      #: sign: larger value = better predicted accuracy
    group: str                  #: pass it is computed in (``grad``, ``grasp``, ``activation``, ``synflow``, ``cost``, ``features``, ``fisher``)
    reference_column: str | None  #: column of the NAS-Bench-Suite-Zero reference CSV with the same proxy
    description: str
    by_name_only: bool = False  #: slow: computed when named, left out of "all proxies"


PROXIES: dict[str, ProxyInfo] = {p.name: p for p in [
    ProxyInfo('grad_norm', True, True, True, 'grad', 'grad_norm',
              'sum over Conv2d/Linear layers of ||dL/dW||_2 (cross-entropy, one minibatch, train mode)'),
    ProxyInfo('snip', True, True, True, 'grad', 'snip',
              'sum |W * dL/dW| over Conv2d/Linear weights'),
    ProxyInfo('grasp', True, True, True, 'grasp', 'grasp',
              'sum of -W * (H g) over Conv2d/Linear weights, H the Hessian of the loss, g its gradient'),
    ProxyInfo('fisher', True, True, True, 'grad', 'fisher',
              'per output channel of each Conv2d/Linear: 0.5 * mean over the batch of '
              '(sum over space of activation * dL/dactivation)^2, times the channel\'s weight count '
              '(fan-in), summed (as the reference code sums it over weights)'),
    ProxyInfo('jacob_cov', True, False, True, 'activation', 'jacov',
              '-sum(log(l + 1e-5) + 1/(l + 1e-5)), l the eigenvalues of the correlation matrix of the '
              'per-image input Jacobians of the summed logits'),
    ProxyInfo('naswot', True, False, True, 'activation', 'nwot',
              'log det of K = sum over live ReLUs of c c^T + (1-c)(1-c)^T, c the binary activation codes'),
    ProxyInfo('das_distinguish', True, False, True, 'activation', None,
              'DAS distinguishing ability: log det of the normalised agreement kernel K / N_A'),
    ProxyInfo('das_units', True, False, True, 'activation', None,
              'DAS number of activation units N_A (ReLU outputs per image counted by naswot)'),
    ProxyInfo('das', True, False, True, 'activation', None,
              'DAS combination (this package): das_distinguish + 2 * B * log(N_A), i.e. naswot with the '
              'unit count weighted twice (see nni_rank.proxies.activation.DAS_UNITS_WEIGHT)'),
    ProxyInfo('synflow', False, False, True, 'synflow', 'synflow',
              'sum |W * d(sum of outputs)/dW| with |parameters|, BatchNorm removed, all-ones input of batch 1, float64'),
    ProxyInfo('params', False, False, True, 'cost', 'params',
              'number of parameters (all of them, BatchNorm affine and biases included), in millions'),
    ProxyInfo('flops', False, False, True, 'cost', 'flops',
              'Conv2d/Linear multiply-accumulates for one image of the batch input size, in millions'),
    ProxyInfo('az_expressivity', True, False, True, 'features', None,
              'AZ-NAS expressivity: sum over block outputs of the entropy of the normalised eigenvalues of '
              'their channel covariance'),
    ProxyInfo('az_progressivity', True, False, True, 'features', None,
              'AZ-NAS progressivity: smallest increase of that entropy from one block output to the next'),
    ProxyInfo('az_trainability', True, False, True, 'features', None,
              'AZ-NAS trainability: mean over blocks of 2 - s - 1/s, s the largest singular value of the '
              "block's Jacobian estimated with a Rademacher vector"),
    ProxyInfo('vkdnw', True, False, True, 'fisher', None,
              'VKDNW: entropy of the normalised deciles of the eigenvalues of the Fisher information (model '
              'predictive distribution, no labels) of one weight per parameter tensor; slow (per-image Jacobians)',
              by_name_only=True),
    ProxyInfo('zico', True, True, True, 'grad', None,
              'ZiCo: sum over Conv2d/Linear layers of log(sum over weights of mean |g| / std(g)), mean and std over '
              'the gradients of the two halves of the minibatch (nni_rank.proxies.zico); computed when named',
              by_name_only=True),
    ProxyInfo('zc_ensemble', True, False, True, 'features', None,
              'label-free per-model combination of zero-cost components with fixed weights '
              '(nni_rank.proxies.ensemble)'),
]}

#: Other spellings accepted by :func:`resolve_names` (the reference CSV's column names among them).
ALIASES: dict[str, str] = {
    'jacov': 'jacob_cov', 'jacobcov': 'jacob_cov', 'jacob-cov': 'jacob_cov',
    'nwot': 'naswot', 'wot': 'naswot', 'grad-norm': 'grad_norm', 'gradnorm': 'grad_norm',
    'param': 'params', 'flop': 'flops', 'macs': 'flops',
    'expressivity': 'az_expressivity', 'progressivity': 'az_progressivity', 'trainability': 'az_trainability',
    'zc-ensemble': 'zc_ensemble',
}

#: NAS-Bench-Suite-Zero column for each of our proxies that has one.
REFERENCE_COLUMNS: dict[str, str] = {n: p.reference_column for n, p in PROXIES.items() if p.reference_column}


def available_proxies(data_dependent: bool | None = None, by_name_only: bool = False) -> list[str]:
    """Names of all proxies (or only the data-dependent / data-independent ones), in a fixed order; the slow
    ones computed only when named (``vkdnw``) are left out unless ``by_name_only``."""
    return [n for n, p in PROXIES.items() if (data_dependent is None or p.data_dependent == data_dependent)
            and (by_name_only or not p.by_name_only)]


def resolve_names(names: str | Iterable[str] | None) -> list[str]:
    """Canonical proxy names, deduplicated, in the given order; ``None`` = all.

    Raises :class:`ValueError` naming the available proxies for an unknown name or an empty list.
    """
    if names is None:
        return available_proxies()
    if isinstance(names, str):
        names = [names]
    out: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            raise ValueError(f'proxy names must be strings, got {raw!r}; available: {", ".join(PROXIES)}')
        key = raw.strip().lower()
        key = ALIASES.get(key, key)
        if key not in PROXIES:
            raise ValueError(f'unknown proxy {raw!r}; available: {", ".join(PROXIES)} '
                             f'(aliases: {", ".join(sorted(ALIASES))})')
        if key not in out:
            out.append(key)
    if not out:
        raise ValueError(f'no proxy requested; available: {", ".join(PROXIES)}')
    return out


def resolve_table_names(names: Iterable[str]) -> list[str]:
    """Proxy names read from a proxy table: the project's names (aliases resolved), any other name kept as one
    of the table's columns (e.g. ``epe_nas``, ``zen`` of NAS-Bench-Suite-Zero's; the table says when it lacks it)."""
    out: list[str] = []
    for name in names:
        try:
            out.extend(n for n in resolve_names([name]) if n not in out)
        except ValueError:
            if name.strip() and name.strip() not in out:
                out.append(name.strip())
    return out
