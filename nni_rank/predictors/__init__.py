"""Accuracy predictors: NAR (global quality tiers) and the architecture encodings they read."""
from .encoding import GenericEncoder, NB101Encoder, NB201Encoder, ProxyTable, signed_log, with_extra_features
from .nar import RANK_MODES, NARPredictor, TierStatistics, tier_labels

__all__ = ['NARPredictor', 'TierStatistics', 'tier_labels', 'RANK_MODES', 'NB201Encoder', 'NB101Encoder',
           'GenericEncoder', 'ProxyTable', 'with_extra_features', 'signed_log']
