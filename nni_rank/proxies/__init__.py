"""Zero-cost proxies for any ``torch.nn.Module`` (NNI frozen models included).

>>> from nni_rank.proxies import compute_proxies, available_proxies
>>> scores = compute_proxies(net, (x, y), ['synflow', 'naswot', 'jacob_cov'], seed=0)

* :func:`compute_proxies`: several proxies from one minibatch, sharing passes;
* :func:`available_proxies`, :data:`PROXIES` (metadata: data-dependent, sign, reference column);
* :func:`order_by_score` / :func:`rank_with_nan_last`: rankings with NaN last;
  :func:`combine_ranks`: label-free mean-rank ensemble;
* :class:`ProxyStore`: NB201 scores by architecture string, cached on disk;
* :func:`score_nb201` / :func:`nb201_network`: seeded NAS-Bench-201 networks.

Definitions follow the reference implementations (SamsungLabs/zero-cost-nas, BayesWatch/
nas-without-training); see each module's docstring for the details and deviations.
"""
from .activation import DAS_UNITS_WEIGHT, ActivationKernel, das_metrics, naswot_score
from .common import (SCORED_TYPES, ProxyWarning, combine_ranks, order_by_score, proxy_mode,
                     rank_with_nan_last, scored_layers)
from .compute import compute_proxies, compute_proxy, nb201_network, score_nb201
from .cost import MacCounter, count_flops, count_params
from .flow import synflow_score
from .jacobian import jacob_cov_score
from .store import ProxyStore, proxy_batch
from .scorer import ProxyScorer
from .registry import ALIASES, PROXIES, REFERENCE_COLUMNS, ProxyInfo, available_proxies, resolve_names, \
    resolve_table_names

__all__ = [
    'compute_proxies', 'compute_proxy', 'ProxyStore', 'ProxyScorer', 'proxy_batch', 'score_nb201', 'nb201_network',
    'available_proxies', 'resolve_names', 'resolve_table_names', 'PROXIES', 'ProxyInfo', 'ALIASES', 'REFERENCE_COLUMNS',
    'order_by_score', 'rank_with_nan_last', 'combine_ranks', 'ProxyWarning', 'scored_layers',
    'SCORED_TYPES', 'proxy_mode', 'synflow_score', 'jacob_cov_score', 'naswot_score', 'das_metrics',
    'ActivationKernel', 'DAS_UNITS_WEIGHT', 'count_params', 'count_flops', 'MacCounter',
]
