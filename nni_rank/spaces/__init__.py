"""Search spaces: the adapter seam (one module per kind), NAS-Bench-201 and -101 cells, a generic encoding."""
from .adapter import ModelSpaceAdapter, SpaceAdapter, adapter_for, load_space
from .generic import SpaceEncoder
from .nb201 import EDGE_LABELS, EDGES, NNI_OPS, OPS, InvalidArchitecture, NB201Arch, NB201Index, all_archs

__all__ = ['EDGE_LABELS', 'EDGES', 'NNI_OPS', 'OPS', 'InvalidArchitecture', 'ModelSpaceAdapter', 'NB201Arch',
           'NB201Index', 'SpaceAdapter', 'SpaceEncoder', 'adapter_for', 'all_archs', 'load_space']
