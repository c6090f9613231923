"""alpha-NAS on any space: properties read from built networks, synthesis over the space's own choices."""
import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / 'examples'))
from macro_space import MacroSpace  # noqa: E402
from user_nb201_space import UserNB201Space, arch_str_to_sample  # noqa: E402

from nni_rank.properties import Unsatisfiable, nb201_properties  # noqa: E402
from nni_rank.properties.generic import SpaceProperties, satisfies_target  # noqa: E402
from nni_rank.spaces import NB201Arch  # noqa: E402
from nni_rank.spaces.adapter import ModelSpaceAdapter, adapter_for  # noqa: E402
from nni_rank.strategies.alpha_nas_any import SampleEvolution, SampleMutator  # noqa: E402

CELLS = ['|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|',
         '|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|',
         '|avg_pool_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|nor_conv_3x3~2|',
         '|none~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|none~2|']
COMPARED = ('reachable', 'depth_max', 'depth_min', 'spatial', 'channel', 'shape', 'params', 'flops')


@pytest.fixture(scope='module')
def user():
    return SpaceProperties(adapter_for(UserNB201Space(cells=1)))


@pytest.fixture(scope='module')
def macro():
    return SpaceProperties(adapter_for(MacroSpace()))


def test_user_space_cells_have_the_properties_of_nni_nb201_cells(user):
    from nni.nas.hub.pytorch import NasBench201
    nni_space = NasBench201(num_modules_per_stack=1)
    nni_props = SpaceProperties(ModelSpaceAdapter(nni_space.simplify(), nni_space))  # generic path, not the table
    for arch_str in CELLS:
        arch = NB201Arch.from_str(arch_str)
        ours = user.properties(arch_str_to_sample(arch_str))
        theirs = nni_props.properties(arch.to_sample())
        assert {f: ours[f] for f in COMPARED} == {f: theirs[f] for f in COMPARED}, arch_str
        assert ours['reachable'] == nb201_properties(arch).reachable  # one cell per stage: a dead cell cuts the net
    deeper = user.properties(arch_str_to_sample(CELLS[0]))
    shallow = user.properties(arch_str_to_sample(CELLS[3]))
    assert deeper['depth_max'] > shallow['depth_max'] and deeper['params'] > shallow['params']


def _changes(a, b):
    return sum(a[k] != b[k] for k in a)


SHALLOW = {f'layer{i}': 'identity' if i in (1, 3, 4, 6, 7) else 'ir3_t3' for i in range(8)}


def test_synthesis_is_minimal_on_a_small_space(macro):
    start = SHALLOW
    props = macro.properties(start)
    target = {**props, 'depth_max': props['depth_max'] + 2, 'params_bucket': None, 'flops_bucket': None}
    child, d = macro.synthesize(target, start, rng=0)
    assert satisfies_target(macro.properties(child), target) and d == _changes(child, start) >= 1
    # no sample with fewer changes satisfies the target (checked over every one-label change)
    if d > 1:
        assert not any(satisfies_target(macro.properties(n), target) for n in macro.neighbours(start))
    assert macro.synthesize(target, start, rng=0) == (child, d)  # seeded
    same, zero = macro.synthesize({'reachable': True}, start)
    assert same == start and zero == 0
    other, one = macro.synthesize({'reachable': True}, start, exclude=[macro.key(start)], rng=1)
    assert one == 1 == _changes(other, start)


def test_unsatisfiable_targets(macro, user):
    start = {f'layer{i}': 'ir3_t3' for i in range(8)}
    with pytest.raises(Unsatisfiable, match='depth_max'):
        macro.synthesize({**macro.properties(start), 'depth_max': 10_000}, start, budget=100)
    with pytest.raises(Unsatisfiable, match='within 1 label'):
        user.synthesize({'reachable': False}, arch_str_to_sample(CELLS[0]), max_changes=1)
    with pytest.raises(ValueError, match='unknown properties'):
        macro.synthesize({'receptive': 2}, start)


def test_large_space_search_keeps_to_its_budget(user):
    start = arch_str_to_sample(CELLS[3])
    target = {'depth_max': user.properties(arch_str_to_sample(CELLS[0]))['depth_max']}
    before = len(user._cache)
    child, d = user.synthesize(target, start, beam=4, budget=120, rng=0)
    assert satisfies_target(user.properties(child), target) and d == _changes(child, start) >= 2
    assert len(user._cache) - before <= 120


def test_mutation_and_evolution_propose_new_samples(macro):
    mutator = SampleMutator(macro, seed=0)
    start = SHALLOW
    child = mutator.mutate(start)
    assert child != start
    search = SampleEvolution(macro, population_size=4, sample_size=2, seed=0)
    keys = set()
    for i in range(10):
        s = search.propose()
        keys.add(macro.key(s))
        search.tell(s, float(sum(v != 'identity' for v in s.values())))
    assert len(keys) == 10
    state = search.state_dict()
    again = SampleEvolution(macro, population_size=4, sample_size=2, seed=0)
    again.load_state_dict(state)
    assert again.propose() == search.propose()


def test_alpha_nas_strategy_on_the_macro_space(tmp_path):
    import csv
    import json
    from macro_space import write_table

    from nni_rank.evaluators import BenchmarkEvaluator
    from nni_rank.experiment import run_benchmark_search
    from nni_rank.strategies import make_strategy
    path = tmp_path / 'macro.csv'
    write_table(path)
    with open(path, newline='') as f:
        acc = {json.dumps({f'layer{i}': row[f'layer{i}'] for i in range(8)}): float(row['test_acc'])
               for row in csv.DictReader(f)}
    space = MacroSpace()
    strategy = make_strategy('alpha-nas', seed=0, population_size=4, sample_size=2)
    result = run_benchmark_search(strategy, BenchmarkEvaluator(path, space=adapter_for(space)), 10, seed=0,
                                  model_space=space)
    assert len({text for text, _ in result.history}) == 10
    assert all(value == acc[text] for text, value in result.history)


def test_spaces_without_networks_are_refused_in_one_line():
    from nni.mutable import Categorical

    from nni_rank.strategies.alpha_nas import _generic_search
    with pytest.raises(ValueError, match='no network to build'):
        _generic_search({'conv': Categorical([1, 2], label='conv')}, ValueError('not NB201'), {})


def test_nni_hub_space_that_traces():
    import torch
    from nni.nas.hub.pytorch import ProxylessNAS
    space = SpaceProperties(adapter_for(ProxylessNAS()), torch.zeros(1, 3, 224, 224))
    start = {label: values[0] for label, values in space.choices.items()}
    child = SampleMutator(space, seed=0, budget=30, retries=3).mutate(start)
    assert 1 <= _changes(child, start) and space.properties(child)['shape'] == (1, 1000)


def test_properties_are_shared_per_space_and_construction():
    """Seeds in one process share one property cache; a space built with other arguments gets its own."""
    small, also_small = adapter_for(UserNB201Space(cells=1)), adapter_for(UserNB201Space(cells=1))
    shared = SpaceProperties.shared(small)
    assert SpaceProperties.shared(small) is shared
    view = SpaceProperties.shared(also_small)  # the same cache, seen through the caller's adapter
    assert view.adapter is also_small and view._cache is shared._cache
    assert SpaceProperties.shared(adapter_for(UserNB201Space(cells=2))) is not shared
    assert SpaceProperties.shared(adapter_for(MacroSpace())) is not shared
