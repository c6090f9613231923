"""alpha-NAS: program properties, synthesis and property-guided evolution, checked on the real benchmarks."""
import csv
import json

import numpy as np
import pytest

from nni_rank.benchmarks import open_benchmark
from nni_rank.cli.main import main
from nni_rank.evaluators import BenchmarkEvaluator
from nni_rank.experiment import run_benchmark_search
from nni_rank.properties import (NB201Properties, Unsatisfiable, UntraceableModel, nb101_properties,
                                 nb201_properties, property_table, satisfies, satisfies_nb101, synthesize,
                                 traced_properties)
from nni_rank.spaces import OPS, NB201Arch
from nni_rank.spaces.nb101 import NB101Arch
from nni_rank.strategies import make_strategy
from nni_rank.strategies.alpha_nas import PropertyGuidedEvolution, PropertyMutator, nb201_labels

CONV = {'nor_conv_1x1': 1, 'nor_conv_3x3': 1}
K3 = {'nor_conv_3x3': 1, 'avg_pool_3x3': 1}
PATHS_0_TO_3 = [((0, 3),), ((0, 1), (1, 3)), ((0, 2), (2, 3)), ((0, 1), (1, 2), (2, 3))]


@pytest.fixture(scope='module')
def table(nb201_csv):
    return open_benchmark(nb201_csv)


@pytest.fixture(scope='module')
def ptable():
    return property_table()


def brute_force_io(arch: NB201Arch):
    """Depth / receptive field over the explicit input-to-output paths (independent of the module's DP)."""
    paths = [[arch.edge_op(i, j) for i, j in p] for p in PATHS_0_TO_3]
    paths = [p for p in paths if 'none' not in p]
    if not paths:
        return None
    depth = [sum(CONV.get(op, 0) for op in p) for p in paths]
    rf = [sum(K3.get(op, 0) for op in p) for p in paths]
    return max(depth), min(depth), max(rf)


# ------------------------------------------------------------------ NB201 properties
def test_nb201_properties_match_path_enumeration(ptable):
    rng = np.random.RandomState(0)
    for r in rng.choice(len(ptable), 400, replace=False):
        arch, props = ptable.archs[r], ptable.props[r]
        assert props == nb201_properties(arch.to_str())
        expected = brute_force_io(arch)
        assert props.reachable == (expected is not None) == arch.is_connected()
        if expected is not None:
            assert (props.depth_max, props.depth_min, props.receptive) == expected
            assert props.channel == (expected[0] > 0) and props.spatial == (expected[2] > 0)


def test_properties_are_invariant_under_isomorphism_and_size_buckets_follow_flops(ptable):
    from nni_rank.spaces.nb201_net import nb201_flops
    canon = ptable.canonical_row
    # depth, mixing, receptive field and shape depend on the function only (size counts dead convs too)
    keys = [p.key()[:1] + p.key()[3:] for p in ptable.props]
    assert all(keys[r] == keys[canon[r]] for r in range(len(ptable)))
    params = np.array([nb201_flops(a)[1] for a in ptable.archs[::7]])
    buckets = ptable.values['params_bucket'][::7]
    order = np.argsort(params, kind='stable')
    assert np.all(np.diff(buckets[order]) >= 0) and len(set(buckets)) == ptable.num_buckets


def test_abstract_space_is_small_and_predictive(table, ptable):
    """The paper's two insights on the real table: far fewer property vectors, which explain accuracy."""
    size = ptable.abstract_space_size()
    assert 10 < size < len(set(ptable.canonical_row)) // 10
    acc = np.array([table.accuracy(a, 'cifar10') for a in ptable.archs])
    live = ptable.values['reachable'] == 1

    def explained(ids):  # share of the accuracy variance of connected cells explained by the class means
        a = acc[live]
        within = sum(((a[ids == k] - a[ids == k].mean()) ** 2).sum() for k in np.unique(ids))
        return 1 - within / ((a - a.mean()) ** 2).sum()

    ids = ptable.key_ids[live]
    assert explained(ids) > 0.6 > 0.05 > explained(np.random.RandomState(0).permutation(ids))
    depth = ptable.values['depth_max']
    means = [acc[(depth == d) & live].mean() for d in range(4)]
    assert means == sorted(means)  # deeper (more convolutions on a path) is better on average


# ------------------------------------------------------------------ synthesis
def test_synthesis_is_minimal_and_both_methods_agree(ptable):
    rng = np.random.RandomState(1)
    for _ in range(25):
        start = ptable.archs[rng.randint(len(ptable))]
        target = ptable.props[rng.randint(len(ptable))].replace(pairs=None, depth_min=None)
        try:
            res = synthesize(target, start, rng=0)
        except Unsatisfiable:
            assert not ptable.satisfying(target).any()
            continue
        assert satisfies(res.properties, target) and res.properties == nb201_properties(res.arch)
        assert res.changes == sum(a != b for a, b in zip(res.arch.ops, start.ops))
        # no satisfying cell is closer to the start
        ok = ptable.satisfying(target)
        assert (ptable.op_ids[ok] != np.array(start.indices())).sum(axis=1).min() == res.changes
        slow = synthesize(target, start, rng=0, method='enumerate')
        assert (slow.changes, slow.distance) == (res.changes, res.distance)


def test_synthesis_respects_edges_exclusions_and_reports_unsatisfiable(ptable):
    start = NB201Arch.from_str('|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|')
    deep = NB201Properties(reachable=True, depth_max=2)
    res = synthesize(deep, start, edges=['cell/0_1', '1_3'])
    assert res.changes == 2 and res.arch.ops[1:3] == start.ops[1:3] and res.arch.ops[3] == start.ops[3]
    again = synthesize(deep, start, edges=['0_1', '1_3'], exclude=[res.arch])
    assert again.arch.canonical() != res.arch.canonical() and satisfies(again.properties, deep)
    with pytest.raises(Unsatisfiable, match='no NAS-Bench-201 cell satisfies'):
        synthesize(NB201Properties(depth_max=4), start)
    with pytest.raises(Unsatisfiable, match='changing at most 1 of the edges'):
        synthesize(NB201Properties(depth_max=3), start, max_changes=1)
    with pytest.raises(ValueError, match='unknown NB201 properties'):
        synthesize({'depth': 2}, start)
    with pytest.raises(ValueError, match='unknown NAS-Bench-201 edge'):
        synthesize(deep, start, edges=['4_5'])


def test_property_mutation_children_are_new_and_satisfy_their_target(ptable):
    mutator = PropertyMutator(seed=3)
    rng = np.random.RandomState(3)
    for _ in range(40):
        parent = ptable.archs[rng.randint(len(ptable))]
        target = mutator.mutate_properties(ptable.props[ptable.row(parent)])
        try:
            child = synthesize(target, parent, exclude=[parent], rng=mutator.rng)
        except Unsatisfiable:
            continue
        assert child.arch.canonical() != parent.canonical() and satisfies(child.properties, target)
    sample = {'cell/' + k: v for k, v in ptable.archs[123].to_sample(scope='').items()}
    child = mutator.mutate(sample)
    assert set(child) == set(sample) and NB201Arch.from_sample(child).canonical() != ptable.archs[123].canonical()
    assert set(child.values()) <= {'none', 'skip_connect', 'conv_1x1', 'conv_3x3', 'avg_pool_3x3'}
    official = dict(zip(('0_1', '0_2', '1_2', '0_3', '1_3', '2_3'), ptable.archs[-1].ops))
    official['0_1'] = 'nor_conv_3x3'  # a sample written with the official op names keeps them
    assert set(mutator.mutate(official).values()) <= set(OPS)


# ------------------------------------------------------------------ evolution
def test_alpha_nas_queries_distinct_cells_and_beats_random(table):
    ev = BenchmarkEvaluator(table, dataset='cifar10')
    top = table.threshold('cifar10', 0.001)
    hits = {}
    for name in ('alpha-nas', 'random'):
        hits[name] = []
        for seed in range(5):
            res = run_benchmark_search(make_strategy(name, seed=seed), ev, 300, seed=seed, name=name)
            assert len(res.history) == 300
            assert all(acc == table.accuracy(a, 'cifar10') for a, acc in res.history)
            if name == 'alpha-nas':
                assert len({NB201Arch.from_str(a).canonical() for a, _ in res.history}) == 300
            hits[name].append(res.queries_to_reach(top) or 301)
    assert np.median(hits['alpha-nas']) < np.median(hits['random'])


def test_abstract_initial_population_covers_more_of_the_property_space(ptable):
    covered = {}
    for init in ('abstract', 'random'):
        covered[init] = []
        for seed in range(5):
            search = PropertyGuidedEvolution(population_size=20, init=init, seed=seed)
            keys = {ptable.key_ids[ptable.row(search.propose())] for _ in range(20)}
            covered[init].append(len(keys))
    assert np.mean(covered['abstract']) > np.mean(covered['random'])
    with pytest.raises(ValueError, match="init must be 'abstract'"):
        PropertyGuidedEvolution(init='uniform')


def test_search_state_round_trip(table):
    a = PropertyGuidedEvolution(population_size=10, sample_size=3, seed=5)
    for _ in range(40):
        arch = a.propose()
        a.tell(arch, table.accuracy(arch, 'cifar10'))
    b = PropertyGuidedEvolution(population_size=10, sample_size=3, seed=99)
    b.load_state_dict(json.loads(json.dumps(a.state_dict(), default=lambda o: o.tolist())))
    for _ in range(20):
        x, y = a.propose(), b.propose()
        assert x == y
        a.tell(x, table.accuracy(x, 'cifar10'))
        b.tell(y, table.accuracy(y, 'cifar10'))


def test_cli_alpha_nas(nb201_csv, table, tmp_path):
    out = tmp_path / 'an.json'
    argv = ['search', '--strategy', 'alpha-nas', '--benchmark', str(nb201_csv), '--budget', '100', '--seed', '0',
            '--json', str(out)]
    assert main(argv) == 0
    hist = json.loads(out.read_text())['history']
    assert len(hist) == 100 and all(acc == table.accuracy(a, 'cifar10') for a, acc in hist)
    assert main(argv[:-1] + [str(tmp_path / 'b.json')]) == 0
    assert json.loads((tmp_path / 'b.json').read_text())['history'] == hist


def test_nas_experiment_with_nni_space(table):
    from nni.nas.experiment import NasExperiment, NasExperimentConfig
    from nni.nas.hub.pytorch import NasBench201
    config = NasExperimentConfig('sequential', 'raw', 'local')
    config.max_trial_number = 12
    strategy = make_strategy('alpha-nas', seed=0, population_size=6, sample_size=2)
    exp = NasExperiment(NasBench201(), BenchmarkEvaluator(table, dataset='cifar10'), strategy, config)
    exp.run()
    exp.stop()
    models = list(exp.strategy.list_models())
    assert len(models) == 12
    assert all(m.metric == table.accuracy(m.sample, 'cifar10') for m in models)
    assert len({NB201Arch.from_sample(m.sample).canonical() for m in models}) == 12
    assert len(strategy.state_dict()['population']) == 6


def test_cli_refuses_other_spaces(shared_data, capsys):
    argv = ['search', '--space', 'nb101', '--strategy', 'alpha-nas', '--budget', '3',
            '--benchmark', str(shared_data / 'nb101_500_valid_accuracy.csv')]
    assert main(argv) == 1
    assert "NAS-Bench-201 cell spaces only; the space has label 'num_nodes'" in capsys.readouterr().err


def test_bad_spaces_are_refused_clearly():
    from nni.mutable import Categorical
    with pytest.raises(ValueError, match="has label 'conv'"):
        nb201_labels({'conv': Categorical([1, 2], label='conv')})
    with pytest.raises(ValueError, match='must offer the five'):
        nb201_labels({'cell/0_1': Categorical(['a', 'b'], label='0_1')})
    from nni_rank.tuners import AlphaNasTuner
    with pytest.raises(ValueError, match='"choice" edges'):
        AlphaNasTuner().update_search_space({'0_1': {'_type': 'uniform', '_value': [0, 1]}})
    with pytest.raises(ValueError, match='sample_size'):
        make_strategy('alpha-nas', population_size=3, sample_size=5)


# ------------------------------------------------------------------ tuner
def test_tuner_resume_and_exhaustion(table):
    import nni
    from nni_rank.tuners import AlphaNasTuner
    space = {e: {'_type': 'choice', '_value': ['none', 'skip_connect', 'conv_1x1', 'conv_3x3', 'avg_pool_3x3']}
             for e in ('0_1', '0_2', '1_2', '0_3', '1_3', '2_3')}
    tuner = AlphaNasTuner(seed=0, population_size=10, sample_size=3)
    tuner.update_search_space(space)
    done = []
    for pid in range(60):
        params = tuner.generate_parameters(pid)
        value = {'default': table.accuracy(params, 'cifar10')}
        tuner.receive_trial_result(pid, params, value)
        tuner.trial_end(pid, True)
        done.append({'parameter': params, 'value': value, 'trialJobId': str(pid)})
    assert len({NB201Arch.from_sample(d['parameter']).canonical() for d in done}) == 60
    resumed = AlphaNasTuner(seed=1, population_size=10, sample_size=3)
    resumed.update_search_space(space)
    resumed.import_data(done)
    seen = {NB201Arch.from_sample(d['parameter']).canonical() for d in done}
    for pid in range(20):  # ids restart on resume: no clash, no repeats
        assert NB201Arch.from_sample(resumed.generate_parameters(pid)).canonical() not in seen
    assert len(resumed.search.population) == 10
    # once every class is proposed, NNI is told to stop
    state = resumed.search.state_dict()
    classes = np.unique(resumed.search.table.canonical_row)
    state['proposed'] = classes[1:].tolist()
    resumed.search.load_state_dict(state)
    resumed.generate_parameters(100)
    with pytest.raises(nni.NoMoreTrialError):
        resumed.generate_parameters(101)


# ------------------------------------------------------------------ NB101 and traced models
@pytest.fixture(scope='module')
def nb101_rows(shared_data):
    with open(shared_data / 'nb101_500_valid_accuracy.csv', newline='') as f:
        return list(csv.DictReader(f))


def test_nb101_properties_on_real_cells(nb101_rows):
    def paths(cell, v, n):  # explicit path enumeration from vertex v to the output
        if v == n - 1:
            return [[]]
        return [[cell.ops[w]] + rest for w in range(v + 1, n) if cell.matrix[v][w] for rest in paths(cell, w, n)]

    depth_acc = {}
    for r in nb101_rows:
        arch = NB101Arch.from_strings(r['adjacency_7x7_rowmajor'], r['ops'])
        p = nb101_properties(arch, params=float(r['params']), flops=float(r['flops']))
        cell = arch.prune()
        ps = paths(cell, 0, cell.num_vertices)
        convs = [sum(op.startswith('conv') for op in q) for q in ps]
        k3 = [sum(op in ('conv3x3-bn-relu', 'maxpool3x3') for op in q) for q in ps]
        assert (p.depth_max, p.depth_min, p.receptive) == (max(convs), min(convs), max(k3))
        assert 2 ** p.params_bucket <= float(r['params']) < 2 ** (p.params_bucket + 1)
        order = [0] + list(np.random.RandomState(len(depth_acc)).permutation(range(1, cell.num_vertices - 1)) + 0)
        try:  # isomorphic relabelling keeps the properties
            assert nb101_properties(cell.relabel(order + [cell.num_vertices - 1])).key()[3:] == p.key()[3:]
        except ValueError:
            pass  # not a topological order
        assert satisfies_nb101(p, p.replace(params_bucket=None, flops_bucket=None, depth_max=p.depth_max))
        depth_acc.setdefault(p.depth_max, []).append(float(r['val_accuracy']))
    means = [np.mean(v) for _, v in sorted(depth_acc.items()) if len(v) >= 10]
    assert len(means) >= 3 and means == sorted(means)


def test_nb101_synthesis(nb101_rows):
    rows = nb101_rows[:4]
    for r in rows:
        start = NB101Arch.from_strings(r['adjacency_7x7_rowmajor'], r['ops'])
        props = nb101_properties(start)
        if props.depth_max >= 4:
            continue
        target = props.replace(depth_max=props.depth_max + 1)
        res = synthesize(target, start, max_changes=3, rng=0)
        assert satisfies_nb101(nb101_properties(res.arch), target)
        diff = sum(a != b for a, b in zip(res.arch.ops, start.ops)) + \
            sum(x != y for ra, rb in zip(res.arch.matrix, start.matrix) for x, y in zip(ra, rb))
        assert diff == res.changes >= 1
        other = synthesize(target, start, max_changes=3, exclude=[res.arch], rng=0)
        assert other.arch.hash() != res.arch.hash() and other.changes >= res.changes
    with pytest.raises(Unsatisfiable, match='within 1 changes'):
        synthesize(props.replace(depth_min=5), start, max_changes=1)
    with pytest.raises(ValueError, match='params/flops buckets'):
        synthesize(props.replace(params_bucket=3), start)


def test_traced_properties_agree_with_cell_properties(ptable):
    from nni_rank.spaces.nb201_net import build_nb201
    rng = np.random.RandomState(4)
    for r in rng.choice(len(ptable), 25, replace=False):
        arch, p = ptable.archs[r], ptable.props[r]
        cell = build_nb201(arch, channels=4, cells_per_stage=1).search_cells[0]
        tp = traced_properties(cell)
        assert tp.reachable == p.reachable
        if p.reachable:
            assert (tp.spatial, tp.channel) == (p.spatial, p.channel)
            # each ReLU-Conv-BN adds two linear/non-linear alternations (one for the first op on a path)
            assert 2 * p.depth_max - 1 <= tp.depth_max <= 2 * p.depth_max
        assert tp.params == sum(x.numel() for x in cell.parameters())


def test_traced_frozen_nni_model_and_untraceable_error():
    import torch
    from nni.nas.hub.pytorch import NasBench201
    from torch import nn
    from nni_rank.properties import space_properties
    space = NasBench201(stem_out_channels=4, num_modules_per_stack=1)
    deep = NB201Arch.from_str('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|')
    flat = NB201Arch.from_str('|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|')
    x = torch.randn(1, 3, 32, 32)
    p_deep, p_flat = (space_properties(space, a.to_sample(), x) for a in (deep, flat))
    assert p_deep.reachable and p_flat.reachable and p_deep.depth_max > p_flat.depth_max
    assert p_deep.flops > p_flat.flops and p_deep.params > p_flat.params

    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3)
            self.gate = Gate()

        def forward(self, x):
            return self.gate(self.conv(x))

    class Gate(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    with pytest.raises(UntraceableModel, match=r"module 'gate' \(Gate\).*control flow"):
        traced_properties(Branchy())
    with pytest.raises(ValueError, match='torch.nn.Module'):
        traced_properties('resnet')




def test_documented_examples_hold():
    import doctest

    from nni_rank.properties import nb101, nb201, traced
    for module in (nb201, nb101, traced):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
