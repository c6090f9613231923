"""Accuracy predictors: NAR (global quality tiers), the architecture encodings they read, and the ProxyRanker
(zero-cost proxies weighted by the labels a search has paid for)."""
from .encoding import GenericEncoder, NB101Encoder, NB201Encoder, ProxyTable, signed_log, with_extra_features
from .nar import RANK_MODES, NARPredictor, TierStatistics, tier_labels
from .proxy_ranker import ProxyRanker

__all__ = ['NARPredictor', 'ProxyRanker', 'TierStatistics', 'tier_labels', 'RANK_MODES', 'NB201Encoder', 'NB101Encoder',
           'GenericEncoder', 'ProxyTable', 'with_extra_features', 'signed_log']
