"""Search spaces: NAS-Bench-201 and NAS-Bench-101 cells, the fast NB201 builder, and a generic encoding."""
from .generic import SpaceEncoder
from .nb201 import EDGE_LABELS, EDGES, NNI_OPS, OPS, InvalidArchitecture, NB201Arch, NB201Index, all_archs

__all__ = ['EDGE_LABELS', 'EDGES', 'NNI_OPS', 'OPS', 'InvalidArchitecture', 'NB201Arch', 'NB201Index', 'SpaceEncoder',
           'all_archs']
