"""NB201 conversions on all 15,625 real architecture strings."""
import csv

import pytest

from nni_rank.spaces.nb201 import EDGE_LABELS, InvalidArchitecture, NB201Arch, NB201Index, all_archs


@pytest.fixture(scope='module')
def rows(nb201_csv):
    with open(nb201_csv) as f:
        return list(csv.DictReader(f))


def test_every_conversion_round_trips(rows):
    assert len(rows) == 15625
    index = NB201Index(r['arch_str'] for r in rows)
    for r in rows:
        arch = NB201Arch.from_str(r['arch_str'])
        assert arch.to_str() == r['arch_str']
        assert NB201Arch.from_sample(arch.to_sample()) == arch
        assert NB201Arch.from_sample(arch.to_sample(scope='')) == arch
        assert NB201Arch.from_indices(arch.indices()) == arch
        adj = arch.adjacency()
        assert NB201Arch.from_indices([adj[int(e[0])][int(e[2])] for e in EDGE_LABELS]) == arch
        assert index.arch(index.index(arch)) == arch and index.index(arch) == int(r['index'])
    assert set(all_archs()) == {NB201Arch.from_str(r['arch_str']) for r in rows}


def test_nni_sample_uses_nni_op_names():
    arch = NB201Arch.from_str('|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|')
    sample = arch.to_sample()
    assert sample == {'cell/0_1': 'conv_3x3', 'cell/0_2': 'none', 'cell/1_2': 'skip_connect',
                      'cell/0_3': 'avg_pool_3x3', 'cell/1_3': 'conv_1x1', 'cell/2_3': 'none'}


def test_canonical_is_an_opt_in_equivalence(rows):
    archs = [NB201Arch.from_str(r['arch_str']) for r in rows]
    canon = {a.canonical() for a in archs}
    assert len(canon) < len(archs)
    assert all(c.canonical() == c for c in canon)  # idempotent
    # a cell whose output is unreachable collapses to the all-none cell
    dead = NB201Arch.from_str('|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|none~2|')
    assert not dead.is_connected() and dead.canonical() == NB201Arch(('none',) * 6)
    # nodes 1 and 2 swap when unconnected; the canonical forms agree
    a = NB201Arch.from_str('|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|')
    b = NB201Arch.from_str('|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|')
    assert a != b and a.canonical() == b.canonical()


@pytest.mark.parametrize('bad', ['', '|foo~0|+|none~0|none~1|+|none~0|none~1|none~2|',
                                 '|none~1|+|none~0|none~1|+|none~0|none~1|none~2|', 'nor_conv_3x3'])
def test_bad_strings_fail_clearly(bad):
    with pytest.raises(InvalidArchitecture):
        NB201Arch.from_str(bad)


def test_bad_samples_and_indices_fail_clearly():
    with pytest.raises(InvalidArchitecture, match='lacks'):
        NB201Arch.from_sample({'cell/0_1': 'conv_3x3'})
    with pytest.raises(InvalidArchitecture, match='unknown'):
        NB201Arch.from_sample({e: 'conv_5x5' for e in EDGE_LABELS})
    with pytest.raises(InvalidArchitecture):
        NB201Arch.from_indices([0, 1, 2, 3, 4, 5])
