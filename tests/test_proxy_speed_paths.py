"""The fast paths of proxy scoring: NB201 function classes, scoring every cell once."""
import csv
import warnings

import numpy as np
import pytest
import torch

from nni_rank.data import load_cifar, single_minibatch
from nni_rank.proxies import nb201_network, score_nb201
from nni_rank.proxies import exhaustive
from nni_rank.spaces.adapter import adapter_for
from nni_rank.spaces.nb201 import EDGES, NB201Arch, all_archs


@pytest.fixture(scope='module')
def batch(shared_data):
    return single_minibatch(load_cifar(str(shared_data / 'cifar10_train_10k.bin')), 64, seed=0)


def _paper_unique_str(arch: NB201Arch) -> str:
    """NAS-Bench-201's own identity of cells (its ``to_unique_str(consider_zero=True)``), for its 6,466 count."""
    nodes = {0: '0'}
    for j in (1, 2, 3):
        terms = []
        for (i, dst), op in zip(EDGES, arch.ops):
            if dst == j:
                terms.append('#' if op == 'none' or nodes[i] == '#' else nodes[i] if op == 'skip_connect'
                             else f'({nodes[i]})@{op}')
        nodes[j] = '+'.join(sorted(terms))
    return nodes[3]


def test_function_classes_of_nb201():
    archs = list(all_archs())
    keys = [a.function_key() for a in archs]
    assert len({_paper_unique_str(a) for a in archs}) == 6466  # the paper's count, by its rule
    assert len(set(keys)) == 4960  # ours also drops zero terms and dead branches
    one_conv = NB201Arch.from_str('|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|').function_key()
    via_skip = NB201Arch.from_str('|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|')
    dead_extra = NB201Arch.from_str('|none~0|+|nor_conv_1x1~0|none~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|')
    assert via_skip.function_key() == one_conv == dead_extra.function_key()
    swapped = (NB201Arch.from_str('|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|'),
               NB201Arch.from_str('|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_1x1~1|skip_connect~2|'))
    assert swapped[0].function_key() == swapped[1].function_key()
    shared = NB201Arch.from_str('|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|skip_connect~1|skip_connect~2|')
    separate = NB201Arch.from_str('|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|')
    assert shared.function_key() != separate.function_key()  # one weight tensor twice is not two tensors
    # parameter and MAC counts depend on the op counts only
    adapter = adapter_for('nb201')
    for a in (via_skip, dead_extra):
        rep = NB201Arch.from_sample(adapter.cost_representative(a.to_sample()))
        assert rep.op_counts() == a.op_counts()
        assert score_nb201(rep, None, ['params', 'flops'], input_shape=(3, 32, 32)) == \
            score_nb201(a, None, ['params', 'flops'], input_shape=(3, 32, 32))


def _constant_output(arch: NB201Arch, x: torch.Tensor) -> torch.Tensor:
    net = nb201_network(arch).double()
    for m in net.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.constant_(m.weight, 0.01)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
    return net.train()(x)


def test_cells_of_one_function_class_compute_the_same_network(batch):
    """With every weight equal, the representative and a member of its class give the same logits."""
    adapter = adapter_for('nb201')
    x = batch[0][:8].double()
    rng = np.random.default_rng(0)
    archs = list(all_archs())
    checked = 0
    for i in rng.permutation(len(archs)):
        arch = archs[i]
        rep = NB201Arch.from_sample(adapter.function_representative(arch.to_sample()))
        if rep == arch or not arch.is_connected():
            continue
        assert rep.function_key() == arch.function_key()
        assert len(rep.ops) - rep.ops.count('none') <= len(arch.ops) - arch.ops.count('none')
        torch.testing.assert_close(_constant_output(rep, x), _constant_output(arch, x))
        checked += 1
        if checked == 6:
            break
    other = NB201Arch.from_str('|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|nor_conv_1x1~2|')
    assert not torch.allclose(_constant_output(other, x), _constant_output(rep, x))


def _subset(n=60):
    archs = list(all_archs())
    return [archs[i].to_sample() for i in np.random.default_rng(5).choice(len(archs), n, replace=False)]


def test_scoring_all_resumes_after_an_interruption(tmp_path, monkeypatch):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the workers: the same summation order, the same float64 bits
    try:
        _resume_check(tmp_path, monkeypatch)
    finally:
        torch.set_num_threads(threads)


def _resume_check(tmp_path, monkeypatch):
    names = ['synflow', 'params', 'flops']
    samples = _subset()
    _, full = exhaustive.score_all('nb201', names, tmp_path / 'straight', workers=2, progress=False,
                                   samples=samples)  # in two worker processes
    adapter = adapter_for('nb201')
    # duplicates were scored once, and got their representative's values
    rep_of = [adapter.describe(adapter.function_representative(s)) for s in samples]
    assert len(set(rep_of)) < len(samples)
    for rep in set(rep_of):
        rows = full[[r == rep for r in rep_of], 0]
        assert np.array_equal(rows, np.full(len(rows), rows[0]), equal_nan=True)
    direct = score_nb201(NB201Arch.from_sample(samples[0]), None, names, input_shape=(3, 32, 32))
    assert full[0, 1:].tolist() == [direct['params'], direct['flops']]  # cost: the cell's own counts

    calls = []
    real_chunk = exhaustive._score_chunk

    def interrupted(chunk):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(len(chunk))
        return real_chunk(chunk)
    monkeypatch.setattr(exhaustive, '_score_chunk', interrupted)
    with pytest.raises(KeyboardInterrupt):
        exhaustive.score_all('nb201', names, tmp_path / 'resumed', workers=1, progress=False, samples=samples)
    cached = adapter.proxy_source(['synflow'], cache_dir=tmp_path / 'resumed').known(set(rep_of))
    assert len(cached) == sum(calls) == 2 * exhaustive.CHUNK

    calls.clear()
    monkeypatch.setattr(exhaustive, '_score_chunk', lambda chunk: calls.append(len(chunk)) or real_chunk(chunk))
    _, resumed = exhaustive.score_all('nb201', names, tmp_path / 'resumed', workers=1, progress=False,
                                      samples=samples)
    assert sum(calls) < len(set(rep_of)) + 210  # only what the interruption left
    assert np.array_equal(resumed, full, equal_nan=True)


def test_cli_all_writes_a_proxy_table(tmp_path):
    from nni_rank.cli.main import main
    from nni_rank.predictors import ProxyTable
    out = tmp_path / 'cost.csv'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert main(['proxies', '--space', 'nb201', '--all', '--proxies', 'params', '--workers', '2',
                     '--out', str(out)]) == 0
    with open(out, newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15625 and len({r['arch_str'] for r in rows}) == 15625
    table = ProxyTable(out, ['params'], exact=True)
    some = [NB201Arch.from_str(rows[i]['arch_str']) for i in (0, 777, 15624)]
    expected = [score_nb201(a, None, ['params'], input_shape=(3, 32, 32))['params'] for a in some]
    assert table.scores(some)[:, 0].tolist() == expected
    assert main(['proxies', '--space', 'nb201', '--all', '--proxies', 'params']) == 1  # --all needs --out
