"""NAS-Bench-101 cell: conversions, pruning, hash and networks, checked on 500 real benchmark architectures."""
import csv
import logging
import random
import warnings
from collections import defaultdict

import numpy as np
import pytest

from nni_rank.spaces.nb101 import (
    MAX_EDGES, OPS, InvalidArchitecture, NB101Arch, build_nb101, count_parameters,
)

# The inception-like cell of the official NAS-Bench-101 README: 2,694,282 trainable parameters, and the
# dataset key used by google-research's own evaluation tests.
INCEPTION = NB101Arch(
    [[0, 1, 1, 1, 0, 1, 0],
     [0, 0, 0, 0, 0, 0, 1],
     [0, 0, 0, 0, 0, 0, 1],
     [0, 0, 0, 0, 1, 0, 0],
     [0, 0, 0, 0, 0, 0, 1],
     [0, 0, 0, 0, 0, 0, 1],
     [0, 0, 0, 0, 0, 0, 0]],
    ('input', 'conv1x1-bn-relu', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'maxpool3x3', 'output'))
INCEPTION_HASH = '28cfc7874f6d200472e1a9dcd8650aa0'
INCEPTION_PARAMS = 2694282


@pytest.fixture(scope='module')
def rows(shared_data):
    with open(shared_data / 'nb101_500_valid_accuracy.csv', newline='') as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope='module')
def archs(rows):
    return [NB101Arch.from_strings(r['adjacency_7x7_rowmajor'], r['ops']) for r in rows]


@pytest.fixture(scope='module')
def nni_space():
    """A small NNI ``NasBench101`` (same labels as the default one, cheap to build and freeze)."""
    warnings.filterwarnings('ignore', category=RuntimeWarning, module='nni')
    from nni.nas.hub.pytorch import NasBench101
    logging.getLogger('nni').setLevel(logging.WARNING)
    return NasBench101(stem_out_channels=4, num_stacks=1, num_modules_per_stack=1)


def random_topological_order(arch, rng):
    """A random vertex order that keeps the matrix upper triangular (input first, output last)."""
    n = arch.num_vertices
    indeg = [sum(arch.matrix[i][j] for i in range(n)) for j in range(n)]
    ready = [v for v in range(1, n - 1) if indeg[v] == 0]
    order, done = [0], {0}
    for j in range(n):
        if arch.matrix[0][j]:
            indeg[j] -= 1
            if indeg[j] == 0 and 0 < j < n - 1:
                ready.append(j)
    while ready:
        v = ready.pop(rng.randrange(len(ready)))
        order.append(v)
        done.add(v)
        for j in range(v + 1, n - 1):
            if arch.matrix[v][j]:
                indeg[j] -= 1
                if indeg[j] == 0:
                    ready.append(j)
    assert len(order) == n - 1
    return order + [n - 1]


# --------------------------------------------------------------------- CSV and NNI round trips
def test_csv_round_trip(rows, archs):
    assert len(archs) == 500
    for row, arch in zip(rows, archs):
        assert arch.to_strings() == (row['adjacency_7x7_rowmajor'], row['ops'])
        assert arch.num_vertices == 7


def test_csv_raw_matrices_exceed_nine_edges_only_before_pruning(archs):
    """The table stores raw matrices: dangling edges push many above 9 edges, pruned ones never are."""
    assert max(a.num_edges for a in archs) > MAX_EDGES
    assert all(a.prune().num_edges <= MAX_EDGES for a in archs)
    assert all(a.num_live_edges() == a.prune().num_edges for a in archs)


def test_sample_round_trip(archs):
    for arch in archs:
        sample = arch.to_sample()
        assert set(sample) == {'cell/num_nodes', 'cell/final', *(f'cell/op{i}' for i in range(1, 6)),
                               *(f'cell/input{i}' for i in range(1, 7))}
        expected = arch if arch.num_edges <= MAX_EDGES else arch.prune()
        assert NB101Arch.from_sample(sample) == expected
        assert NB101Arch.from_sample(arch.to_sample(prune=False)) == arch
        assert NB101Arch.from_sample(arch.to_sample(scope='', pad=False, final=False), scope='') == expected
        assert NB101Arch.from_sample({'cell/final': sample['cell/final']}) == arch.prune()
        assert NB101Arch.parse(arch.to_strings()) == arch


def test_samples_accepted_by_nni_constraint(archs):
    """NNI's own cell constraint accepts our samples and derives the same pruned ``final`` cell."""
    from nni.nas.benchmark.evaluator import NasBench101Benchmark
    space = NasBench101Benchmark.default_space()  # bare labels: num_nodes, op1.., input1.., final
    constraint = space.simplify()['final']
    for arch in archs:
        sample = arch.to_sample(scope='', final=False)
        frozen = constraint.freeze(dict(sample))
        assert frozen == arch.to_nni_arch()
        space.validate(dict(sample))


def test_nni_random_samples(nni_space):
    """Samples drawn by NNI (frozen model space, labels ``cell/...``) are read and written back."""
    from nni.nas.space import RawFormatModelSpace
    space = RawFormatModelSpace.from_model(nni_space)
    rng = np.random.RandomState(0)
    got = 0
    while got < 20:
        try:
            model = space.random(random_state=rng)
        except Exception:  # NNI rejects samples violating the cell constraint; try again
            continue
        sample = model.sample
        arch = NB101Arch.from_sample(sample)
        assert arch.num_vertices == sample['cell/num_nodes']
        assert arch.to_nni_arch() == sample['cell/final']
        mine = arch.to_sample(pad=False)
        assert all(sample[k] == v for k, v in mine.items())
        got += 1


def test_nni_freezes_our_samples(nni_space, archs):
    import torch
    for arch in archs[:3]:
        net = nni_space.freeze(arch.to_sample())
        assert net(torch.zeros(1, 3, 4, 4)).shape == (1, 10)


# --------------------------------------------------------------------- pruning
def test_prune_matches_official_and_is_idempotent(archs):
    from nasbench_pytorch.model import ModelSpec  # verbatim copy of the official ModelSpec pruning
    for arch in archs:
        pruned = arch.prune()
        spec = ModelSpec(np.array(arch.matrix), list(arch.ops))
        assert pruned.matrix == tuple(map(tuple, spec.matrix.tolist()))
        assert list(pruned.ops) == spec.ops
        assert pruned.prune() == pruned
        assert pruned.hash() == arch.hash()


def test_prune_drops_dangling_vertices():
    arch = NB101Arch([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]],
                     ('input', 'conv3x3-bn-relu', 'maxpool3x3', 'output'))  # vertex 2 is a dead end
    assert arch.prune() == NB101Arch([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ('input', 'conv3x3-bn-relu', 'output'))


def test_disconnected_cell_is_invalid():
    arch = NB101Arch([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ('input', 'conv3x3-bn-relu', 'output'))
    assert not arch.is_connected()
    with pytest.raises(InvalidArchitecture, match='no path from input to output'):
        arch.prune()
    with pytest.raises(InvalidArchitecture, match='no path'):
        arch.hash()
    with pytest.raises(InvalidArchitecture, match='no path'):
        build_nb101(arch)


# --------------------------------------------------------------------- hash
def test_hash_matches_official_implementations(archs):
    from nasbench_pytorch.model import ModelSpec, graph_util
    from nni.nas.benchmark.nasbench101 import graph_util as nni_graph_util
    assert INCEPTION.hash() == INCEPTION_HASH
    for arch in archs:
        spec = ModelSpec(np.array(arch.matrix), list(arch.ops))
        labels = [-1] + [OPS.index(op) for op in spec.ops[1:-1]] + [-2]
        assert arch.hash() == graph_util.hash_module(spec.matrix.numpy(), labels)
        nni_arch = arch.to_nni_arch()
        assert arch.hash() == nni_graph_util.hash_module(nni_arch, nni_graph_util.infer_num_vertices(nni_arch))


def test_hash_invariant_under_vertex_permutations(archs):
    rng = random.Random(0)
    moved = 0
    for arch in archs:
        for cell in (arch, arch.prune()):
            for _ in range(3):
                order = random_topological_order(cell, rng)
                other = cell.relabel(order)
                moved += other != cell
                assert other.hash() == cell.hash()
    assert moved > 1000  # most relabelings really change the matrix


def test_hash_separates_different_cells(rows, archs):
    """Cells with different hashes differ; cells sharing one are the same benchmark entry.

    Rows sharing a hash report one of the 3 training runs of that entry. Their parameter counts may differ
    slightly: the odd output channel goes to the first output-feeding vertex in vertex order, so
    isomorphic orderings build networks that differ by a few thousand weights (3 groups of 292 here).
    """
    by_hash = defaultdict(list)
    for row, arch in zip(rows, archs):
        by_hash[arch.hash()].append(row)
    assert len(by_hash) == 292  # 500 rows, 292 distinct networks (many tiny cells repeat)
    differing = 0
    for group in by_hash.values():
        assert len({r['val_accuracy'] for r in group}) <= 3  # one of the 3 benchmark training runs
        params = [float(r['params']) for r in group]
        assert max(params) / min(params) < 1.01
        differing += len(set(params)) > 1
    assert differing == 3
    params_to_hashes = defaultdict(set)
    for row, arch in zip(rows, archs):
        params_to_hashes[row['params']].add(arch.hash())
    assert len(params_to_hashes) > 100
    # One op changed -> a different cell.
    ops = list(INCEPTION.ops)
    ops[1] = 'maxpool3x3'
    assert NB101Arch(INCEPTION.matrix, tuple(ops)).hash() != INCEPTION.hash()
    # Same degrees and ops, different wiring: a chain 1->2->3 vs 1->3, 2->3 fed by input.
    chain = NB101Arch([[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0] * 5],
                      ('input', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'output'))
    fork = NB101Arch([[0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0] * 5],
                     ('input', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'output'))
    assert chain.hash() != fork.hash()


# --------------------------------------------------------------------- networks
def test_parameter_counts_match_the_table(rows, archs):
    """``params`` is in millions; built networks agree exactly on 20 archs of distinct sizes."""
    seen, checked = set(), 0
    for row, arch in zip(rows, archs):
        if row['params'] in seen:
            continue
        seen.add(row['params'])
        assert count_parameters(build_nb101(arch)) == round(float(row['params']) * 1e6), row
        checked += 1
        if checked == 20:
            break
    assert checked == 20
    assert count_parameters(build_nb101(INCEPTION)) == INCEPTION_PARAMS


def test_built_network_runs_and_every_parameter_learns():
    import torch
    net = build_nb101(INCEPTION, num_classes=7, stem_out_channels=6, num_modules_per_stack=1)
    out = net(torch.randn(2, 3, 8, 8))
    assert out.shape == (2, 7)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(m.momentum == 0.003 for m in bns)
    tiny = build_nb101(NB101Arch([[0, 1], [0, 0]], ('input', 'output')), stem_out_channels=4)
    assert tiny(torch.randn(1, 3, 8, 8)).shape == (1, 10)
    assert count_parameters(tiny) > 0


# --------------------------------------------------------------------- errors
@pytest.mark.parametrize('matrix, ops, message', [
    ([[0, 1], [1, 0]], ('input', 'output'), 'upper triangular'),
    ([[1, 1], [0, 0]], ('input', 'output'), 'upper triangular'),
    ([[0, 2], [0, 0]], ('input', 'output'), '0 or 1'),
    ([[0, 1, 0], [0, 0]], ('input', 'output'), 'square'),
    ([[0] * 8 for _ in range(8)], ('input',) + ('maxpool3x3',) * 6 + ('output',), '2 to 7 vertices'),
    ([[0, 1], [0, 0]], ('input', 'conv3x3-bn-relu', 'output'), 'ops for a 2x2'),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ('input', 'conv5x5', 'output'), 'unknown NAS-Bench-101 op'),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ('conv3x3-bn-relu', 'maxpool3x3', 'output'), "first op must be 'input'"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ('input', 'maxpool3x3', 'input'), "last 'output'"),
])
def test_invalid_cells(matrix, ops, message):
    with pytest.raises(InvalidArchitecture, match=message):
        NB101Arch(matrix, ops)


def test_too_many_edges():
    full = [[int(j > i) for j in range(5)] for i in range(5)]  # 10 edges, all on input-output paths
    with pytest.raises(InvalidArchitecture, match='at most 9 edges'):
        NB101Arch(full, ('input',) + ('conv3x3-bn-relu',) * 3 + ('output',))
    assert isinstance(InvalidArchitecture('x'), ValueError)


def test_bad_strings_and_samples():
    with pytest.raises(InvalidArchitecture, match='square number'):
        NB101Arch.from_strings('0' * 48, 'input|output')
    with pytest.raises(InvalidArchitecture, match='0/1 characters'):
        NB101Arch.from_strings('0' * 47 + '2x', 'input|output')
    with pytest.raises(InvalidArchitecture, match='lacks labels'):
        NB101Arch.from_sample({'cell/num_nodes': 3, 'cell/op1': 'maxpool3x3', 'cell/input1': [0]})
    with pytest.raises(InvalidArchitecture, match='sources must be integers in 0..1'):
        NB101Arch.from_sample({'num_nodes': 3, 'op1': 'maxpool3x3', 'input1': [0], 'input2': [2]})
    with pytest.raises(InvalidArchitecture, match='num_nodes must lie'):
        NB101Arch.from_sample({'num_nodes': 9})
    with pytest.raises(InvalidArchitecture, match='no NAS-Bench-101 labels'):
        NB101Arch.from_sample({'cell/0_1': 'conv_3x3'})
    with pytest.raises(InvalidArchitecture, match='several NAS-Bench-101 cells'):
        NB101Arch.from_sample({**INCEPTION.to_sample('a'), **INCEPTION.to_sample('b')})
    assert NB101Arch.from_sample({**INCEPTION.to_sample('a'), **INCEPTION.to_sample('b')}, scope='b') == INCEPTION
    with pytest.raises(InvalidArchitecture, match='no path'):
        NB101Arch([[0, 0], [0, 0]], ('input', 'output')).to_sample()
