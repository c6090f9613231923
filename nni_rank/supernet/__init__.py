"""One-shot NAS on NAS-Bench-201: a weight-sharing supernet trained with SPOS or RD-NAS.

* :class:`NB201Supernet`: every edge holds all five NB201 ops; ``net(x, arch)`` runs one subnet;
* :class:`UniformSampler` / :class:`MarginSampler` / :class:`ScoreGroupSampler`: SPOS paths, RD-NAS's
  group-distance pairs, pairs from different teacher-score groups;
* :class:`ProxyTeacher`: cached zero-cost proxy scores (the RD-NAS teacher);
* :class:`SupernetTrainer` / :class:`SupernetConfig`: training, checkpoint save and resume;
* :func:`rank_archs`, :func:`recalibrate_bn`, :func:`rank_correlation`, :func:`top_k`: evaluation.
"""
from .evaluate import (calibration_batches, evaluate_subnet, held_out_batches, rank_archs, rank_correlation,
                       recalibrate_bn, top_k)
from .nb201_supernet import MixedEdge, NB201Supernet, SuperCell
from .sampler import DEFAULT_GROUPS, TRAIN_OPS, MarginSampler, ScoreGroupSampler, UniformSampler, group_distance
from .teacher import ProxyTeacher
from .train import METHODS, SupernetConfig, SupernetTrainer, load_data, load_supernet, rank_weight_at, read_checkpoint

__all__ = [
    'NB201Supernet', 'MixedEdge', 'SuperCell', 'UniformSampler', 'MarginSampler', 'ScoreGroupSampler',
    'group_distance', 'TRAIN_OPS',
    'DEFAULT_GROUPS', 'ProxyTeacher', 'SupernetConfig', 'SupernetTrainer', 'load_data', 'load_supernet',
    'read_checkpoint', 'rank_weight_at', 'METHODS', 'calibration_batches', 'held_out_batches', 'recalibrate_bn',
    'evaluate_subnet', 'rank_archs', 'top_k', 'rank_correlation',
]
