"""alpha-NAS program properties: an abstract view of architectures, and synthesis back to concrete cells.

* :mod:`.nb201` -- depth, mixing, receptive field, shape and size of NAS-Bench-201 cells, and the
  property table of all 15,625 cells;
* :mod:`.nb101` -- the same on NAS-Bench-101's 7-vertex cells;
* :mod:`.traced` -- depth and mixing of any PyTorch / frozen NNI model through ``torch.fx``;
* :mod:`.synthesis` -- the NB201 cell nearest to a start cell that satisfies target properties;
* :mod:`.generic` -- properties of any space's samples from their traced networks, and synthesis by search.

Properties are lower bounds (a candidate satisfies a target when at least as deep / mixing / wide)
except shape and size, which must match.
"""
from .nb101 import NB101Properties, nb101_properties, satisfies_nb101
from .nb201 import (NB201Properties, PropertyTable, nb201_properties, property_distance, property_table,
                    satisfies)
from .synthesis import SynthesisResult, Unsatisfiable, synthesize
from .traced import TracedProperties, UntraceableModel, space_properties, traced_properties

__all__ = ['NB101Properties', 'NB201Properties', 'PropertyTable', 'SynthesisResult', 'TracedProperties',
           'Unsatisfiable', 'UntraceableModel', 'nb101_properties', 'nb201_properties', 'property_distance',
           'property_table', 'satisfies', 'satisfies_nb101', 'space_properties', 'synthesize', 'traced_properties']
