"""NB201 supernet, SPOS / RD-NAS training, evaluation, CLI and the NNI one-shot strategy (small, CPU)."""
import json
import math
import random
import warnings

import pytest
import torch

from nni_rank.cli.main import main
from nni_rank.experiment.digits_ground_truth import (GroundTruthConfig, digits_ground_truth, open_ground_truth,
                                                     sample_nb201_archs)
from nni_rank.spaces import OPS, NB201Arch
from nni_rank.supernet import (TRAIN_OPS, MarginSampler, NB201Supernet, ProxyTeacher, ScoreGroupSampler, SupernetConfig,
                               SupernetTrainer, UniformSampler, calibration_batches, evaluate_subnet, group_distance,
                               held_out_batches, load_data, rank_correlation, rank_weight_at, read_checkpoint,
                               recalibrate_bn, top_k)

ALL_CONV = NB201Arch(('nor_conv_3x3',) * 6)
ALL_SKIP = NB201Arch(('skip_connect',) * 6)
SMALL = dict(epochs=2, channels=8, train_limit=192, batch_size=64, seed=3)


pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def digits():
    train, test, num_classes = load_data('digits', image_size=8)
    return train, test, num_classes


# ---------------------------------------------------------------- supernet
def test_subnet_forward_equals_standalone_network_with_inherited_weights(digits):
    train, test, _ = digits
    torch.manual_seed(0)
    net = NB201Supernet(10, channels=8, cells_per_stage=2)
    calib = calibration_batches(train, 2, 32)
    x = test.tensors[0][:16]
    for arch in [ALL_CONV, NB201Arch.from_str('|none~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|'),
                 *sample_nb201_archs(3, seed=5)]:
        recalibrate_bn(net, arch, calib)
        standalone = net.subnet(arch).eval()
        with torch.no_grad():
            assert torch.allclose(standalone(x), net(x, arch), atol=1e-5), arch
        net.set_arch(arch)
        with torch.no_grad():
            assert torch.equal(net(x), net(x, arch))


def test_weights_are_shared_and_only_the_chosen_path_gets_gradients():
    torch.manual_seed(0)
    net = NB201Supernet(10, channels=4, cells_per_stage=1)
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    arch = NB201Arch(('nor_conv_1x1', 'skip_connect', 'nor_conv_3x3', 'avg_pool_3x3', 'none', 'nor_conv_1x1'))
    torch.nn.functional.cross_entropy(net(x, arch), y).backward()
    edge01 = net.cells[0].layers[0][0].candidates
    assert edge01[OPS.index('nor_conv_1x1')].op[1].weight.grad is not None
    assert edge01[OPS.index('nor_conv_3x3')].op[1].weight.grad is None
    assert all(p.grad is None for p in net.cells[0].layers[2][1].candidates.parameters())  # the 'none' edge 1->3
    with pytest.raises(ValueError, match='no architecture'):
        NB201Supernet(10, 4, 1)(x)


# ---------------------------------------------------------------- samplers and teacher
def test_group_distance_and_margin_sampler():
    conv1 = NB201Arch(('nor_conv_1x1',) * 6)
    assert group_distance(ALL_CONV, ALL_CONV) == 0
    assert group_distance(ALL_CONV, conv1) == 3.0            # 6 x same group
    assert group_distance(ALL_CONV, ALL_SKIP) == 12.0        # 6 x other group
    rng_pairs = UniformSampler(TRAIN_OPS, seed=1)
    mean = sum(group_distance(rng_pairs.sample(), rng_pairs.sample()) for _ in range(3000)) / 3000
    assert abs(mean - 6.75) < 0.2  # 6 * (1/4 * 0.5 + 1/2 * 2): the paper's margin 6.7 is the mean
    sampler = MarginSampler(TRAIN_OPS, margin=6.7, seed=2)
    pairs = [sampler.sample_pair() for _ in range(200)]
    assert all(d >= 6.7 and d == group_distance(a, b) for a, b, d in pairs)
    assert all('none' not in a.ops + b.ops for a, b, _ in pairs)
    again = MarginSampler(TRAIN_OPS, margin=6.7, seed=2)
    assert [again.sample_pair() for _ in range(200)] == pairs
    with pytest.raises(ValueError):
        UniformSampler(('nor_conv_3x3', 'conv_5x5'))


def test_teacher_scores_are_cached_signed_and_leave_training_rng_alone(digits):
    train, _, num_classes = digits
    flops = ProxyTeacher('flops', input_size=8, channels=8, cells_per_stage=1)
    assert flops.prefers(ALL_CONV, ALL_SKIP) == 1 and flops.prefers(ALL_SKIP, ALL_CONV) == -1
    assert flops.prefers(ALL_SKIP, NB201Arch(('avg_pool_3x3',) * 6)) in (0, -1)
    assert set(flops.cache) >= {ALL_CONV.to_str(), ALL_SKIP.to_str()}
    batch = (train.tensors[0][:32], train.tensors[1][:32])
    synflow = ProxyTeacher('synflow', batch, num_classes, channels=8, cells_per_stage=1)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    score = synflow.score(ALL_CONV)
    assert torch.equal(torch.rand(3), expected)
    assert math.isfinite(score) and synflow.score(ALL_CONV) == score
    assert synflow.prefers(ALL_CONV, NB201Arch(('none',) * 6)) == 1


def test_teacher_from_a_proxy_table_reads_full_size_scores(shared_data, tmp_path):
    import csv
    table = shared_data / 'nb201_zc_reference_cifar10.csv'
    with open(table, newline='') as f:
        rows = [r for _, r in zip(range(400), csv.DictReader(f))]
    row = next(r for r in rows if 'none' not in r['arch_str'] and r['nwot'] not in ('', 'nan'))
    teacher = ProxyTeacher('naswot', table=str(table))
    assert teacher.score(row['arch_str']) == float(row['nwot'])
    other = next(r for r in rows if 'none' not in r['arch_str'] and float(r['nwot']) != float(row['nwot']))
    expected = 1 if float(row['nwot']) > float(other['nwot']) else -1
    assert teacher.prefers(row['arch_str'], other['arch_str']) == expected
    # a cell the table lacks scores NaN and its pairs are not ordered
    small = tmp_path / 'one_row.csv'
    small.write_text(f"arch_str,nwot\n{row['arch_str']},{row['nwot']}\n")
    partial = ProxyTeacher('naswot', table=str(small))
    assert math.isnan(partial.score(ALL_SKIP)) and partial.prefers(row['arch_str'], ALL_SKIP) == 0
    with pytest.raises(ValueError, match='not a column'):
        ProxyTeacher('synflow', table=str(small))
    with pytest.raises(ValueError, match='not both'):
        ProxyTeacher('naswot', store=True, table=str(small))


def test_score_group_sampler_pairs_cells_from_different_teacher_quantiles():
    flops = ProxyTeacher('flops', input_size=8, channels=8, cells_per_stage=1)
    sampler = ScoreGroupSampler(flops.score, num_groups=3, pool_size=200, seed=0)
    assert len(sampler.boundaries) == 2 and sampler.boundaries[0] < sampler.boundaries[1]
    assert sampler.group(ALL_SKIP) == 0 and sampler.group(ALL_CONV) == 2
    pairs = [sampler.sample_pair() for _ in range(100)]
    assert all(d == abs(sampler.group(a) - sampler.group(b)) >= 1 for a, b, d in pairs)
    with pytest.raises(ValueError, match='num_groups'):
        ScoreGroupSampler(flops.score, num_groups=1)


def test_rank_weight_schedules():
    assert rank_weight_at(0.0, 2.0) == 0.0
    assert rank_weight_at(0.625, 2.0) == pytest.approx(2.0)
    assert rank_weight_at(0.5, 2.0, 'linear') == 1.0 and rank_weight_at(0.1, 2.0, 'constant') == 2.0
    with pytest.raises(ValueError, match='rank_schedule'):
        rank_weight_at(0.5, 1.0, 'cosine')


# ---------------------------------------------------------------- training, checkpoints, evaluation
def test_rdnas_training_resumes_bit_for_bit_from_a_weights_only_checkpoint(tmp_path):
    cfg = SupernetConfig(method='rdnas', teacher='flops', score_groups=4, rank_margin=0.1, **SMALL)
    full = SupernetTrainer(cfg, log=None)
    full.train()
    half = SupernetTrainer(cfg, log=None)
    half.train(epochs=1, save=tmp_path / 'ck.pt')
    state = torch.load(tmp_path / 'ck.pt', weights_only=True)  # plain tensors and values only
    assert state['epoch'] == 1
    resumed = SupernetTrainer.resume(tmp_path / 'ck.pt', log=None)
    assert resumed.epoch == 1 and resumed.teacher.cache == half.teacher.cache
    resumed.train()
    for key, value in full.net.state_dict().items():
        assert torch.equal(value, resumed.net.state_dict()[key]), key
    assert [h['ce'] for h in resumed.history] == [h['ce'] for h in full.history]
    assert full.history[-1]['ranked'] > 0.5 and 1 <= full.history[-1]['distance'] <= 3
    margin_run = SupernetTrainer(SupernetConfig(method='rdnas', teacher='flops', **dict(SMALL, epochs=1)), log=None)
    margin_run.train()
    assert margin_run.history[-1]['distance'] >= 6.7
    (tmp_path / 'junk.pt').write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='not a readable'):
        read_checkpoint(tmp_path / 'junk.pt')


def test_spos_training_learns_and_recalibrated_evaluation_is_order_independent(digits):
    train, test, _ = digits
    calib, held = calibration_batches(train, 3, 64), held_out_batches(test)
    trainer = SupernetTrainer(SupernetConfig(method='spos', epochs=6, channels=8, seed=1), log=None)
    untrained = evaluate_subnet(trainer.net, ALL_CONV, calib, held)
    trainer.train()
    assert trainer.history[-1]['ce'] < trainer.history[0]['ce']
    a, b = sample_nb201_archs(2, seed=11)
    first = evaluate_subnet(trainer.net, ALL_CONV, calib, held)
    evaluate_subnet(trainer.net, a, calib, held)
    evaluate_subnet(trainer.net, b, calib, held)
    assert evaluate_subnet(trainer.net, ALL_CONV, calib, held) == first  # BN state never leaks between subnets
    assert first['accuracy'] > max(30.0, untrained['accuracy'] + 20)  # the inherited weights have learnt
    dead = evaluate_subnet(trainer.net, NB201Arch(('none',) * 6), calib, held)
    assert dead['accuracy'] < first['accuracy']
    best = top_k([first, dead], 1)
    assert best == [first] and top_k([first, dead], 1, by='loss') == [first]


def test_rank_correlation_matches_scipy_and_drops_nan():
    from scipy.stats import kendalltau
    rng = random.Random(0)
    p = [rng.random() for _ in range(30)]
    t = [x + rng.gauss(0, 0.3) for x in p]
    out = rank_correlation(p + [math.nan], t + [1.0])
    assert out['n'] == 30 and out['kendall'] == pytest.approx(kendalltau(p, t)[0])
    assert rank_correlation([1, 2, 3], [1, 2, 3])['kendall'] == pytest.approx(1.0)


def test_bad_configs_are_rejected_clearly():
    with pytest.raises(ValueError, match='method'):
        SupernetConfig(method='darts')
    with pytest.raises(ValueError, match='data_dir'):
        SupernetConfig(dataset='cifar10')
    with pytest.raises(ValueError, match='ops'):
        SupernetConfig(ops=('nor_conv_3x3',))


# ---------------------------------------------------------------- ground truth and CLI
def test_digits_ground_truth_is_cached_and_config_checked(tmp_path, monkeypatch):
    import nni_rank.experiment.digits_ground_truth as gt
    cfg = GroundTruthConfig(num_archs=3, seeds=(0,), epochs=1, channels=4)
    rows = digits_ground_truth(tmp_path / 'gt.csv', cfg, progress=False)
    assert [r['arch_str'] for r in rows] == [a.to_str() for a in sample_nb201_archs(3, 0)]
    assert all(0 <= float(r['test_acc']) <= 100 and float(r['test_loss']) > 0 for r in rows)
    monkeypatch.setattr(gt, 'train_one', lambda *a, **k: pytest.fail('cached results were retrained'))
    again = digits_ground_truth(tmp_path / 'gt.csv', cfg, progress=False)
    assert [float(r['test_acc']) for r in again] == pytest.approx([float(r['test_acc']) for r in rows])
    table = open_ground_truth(tmp_path / 'gt.csv')
    assert table.datasets() == ['digits'] and table.accuracy_metric('digits') == 'test_acc'
    monkeypatch.setattr(gt, 'train_one', lambda *a, **k: (50.0, 1.0))
    other = digits_ground_truth(tmp_path / 'gt.csv', GroundTruthConfig(num_archs=3, seeds=(0,), epochs=2, channels=4),
                                progress=False)
    assert [r['test_acc'] for r in other] == [50.0] * 3  # another set-up is not served from the cache


def test_cli_supernet_and_supernet_rank(tmp_path, nb201_csv, monkeypatch, capsys):
    import nni_rank.experiment.digits_ground_truth as gt
    monkeypatch.setattr(gt, 'train_one', lambda arch, *a, **k: (10.0 * arch.num_parametric(), 1.0 / (1 + arch.num_parametric())))
    digits_ground_truth(tmp_path / 'gt.csv', GroundTruthConfig(num_archs=30), progress=False)
    ck = tmp_path / 'sn.pt'
    assert main(['supernet', '--method', 'rdnas', '--teacher', 'flops', '--epochs', '1', '--channels', '8',
                 '--train-limit', '128', '--rank-loss', 'margin', '--pairs-per-step', '2', '--save', str(ck)]) == 0
    saved = json.loads(read_checkpoint(ck)['config'])
    assert (saved['rank_loss'], saved['pairs_per_step'], read_checkpoint(ck)['paths_trained']) == ('margin', 2, 8)
    assert main(['supernet', '--method', 'rdnas', '--epochs', '1', '--save', str(ck), '--resume']) == 0
    assert 'resuming' in capsys.readouterr().out
    out = tmp_path / 'rank.json'
    assert main(['supernet-rank', '--load', str(ck), '--sample', '12', '--benchmark', str(tmp_path / 'gt.csv'),
                 '--json', str(out)]) == 0
    res = json.loads(out.read_text())
    assert res['n'] == 12 and -1 <= res['kendall'] <= 1 and -1 <= res['spearman'] <= 1
    assert len(res['top_k']) == 5 and res['metric'] == 'test_acc' and res['dataset'] == 'digits'
    archs = tmp_path / 'archs.txt'
    archs.write_text('\n'.join(a.to_str() for a in sample_nb201_archs(6, seed=9)))
    assert main(['supernet-rank', '--load', str(ck), '--archs', str(archs), '--benchmark', str(nb201_csv),
                 '--dataset', 'cifar10', '--json', str(out)]) == 0
    assert json.loads(out.read_text())['n'] == 6
    assert main(['supernet-rank', '--load', str(ck), '--sample', '5', '--benchmark', str(nb201_csv)]) == 1
    assert "dataset 'digits' is not in benchmark" in capsys.readouterr().err
    assert main(['supernet', '--dataset', 'cifar10', '--epochs', '1', '--save', str(tmp_path / 'x.pt')]) == 1
    assert main(['supernet-rank', '--load', str(tmp_path / 'missing.pt'), '--sample', '3',
                 '--benchmark', str(nb201_csv)]) == 1


# ---------------------------------------------------------------- NNI one-shot strategy
def test_rdnas_nni_strategy_trains_a_nasbench201_supernet_one_epoch(digits):
    from nni.nas.evaluator.pytorch import Classification, DataLoader
    from nni.nas.experiment import NasExperiment
    from nni.nas.hub.pytorch import NasBench201
    from torch.utils.data import TensorDataset
    from nni_rank.strategies.rdnas import RDNAS
    train, test, _ = digits
    warnings.filterwarnings('ignore')
    torch.manual_seed(0)
    evaluator = Classification(
        train_dataloaders=DataLoader(TensorDataset(train.tensors[0][:128], train.tensors[1][:128]), batch_size=32),
        val_dataloaders=DataLoader(TensorDataset(test.tensors[0][:64], test.tensors[1][:64]), batch_size=64),
        max_epochs=1, num_classes=10, accelerator='cpu', enable_progress_bar=False, logger=False,
        enable_checkpointing=False, enable_model_summary=False)
    space = NasBench201(stem_out_channels=8, num_modules_per_stack=1, num_labels=10)
    strategy = RDNAS('flops', teacher_options=dict(channels=8, cells_per_stage=1, input_size=8), seed=0,
                     rank_loss='margin', rank_margin=0.1)
    exp = NasExperiment(space, evaluator, strategy)
    exp.run()
    exp.stop()  # NNI otherwise stops it at interpreter exit, logging to pytest's closed streams
    module = strategy.oneshot_module
    assert module.global_step == 4
    cache = strategy.teacher.teacher.cache
    assert 2 <= len(cache) <= 8 and all('none' not in a for a in cache)
    assert 'rank_loss' in module.trainer.callback_metrics
    a, b, d = module.sample_pair()
    assert d >= 6.7 and set(a) == set(b) == {f'cell/{i}_{j}' for i, j in ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))}
    assert module.rank_loss == 'margin' and module.rank_margin == 0.1
    with pytest.raises(ValueError, match='rank_schedule'):
        RDNAS(rank_schedule='step')
    with pytest.raises(ValueError, match='rank_loss'):
        RDNAS(rank_loss='listwise')


# ---------------------------------------------------------------- CIFAR-10 protocol (issue 15)
@pytest.fixture(scope='module')
def nb201_table(nb201_csv):
    from nni_rank.benchmarks import open_benchmark
    return open_benchmark(nb201_csv)


def test_benchmark_subnets_are_seeded_cells_without_none_with_their_accuracy(nb201_table):
    from nni_rank.supernet.protocol import benchmark_subnets
    archs, truth = benchmark_subnets(nb201_table, 200, seed=0)
    assert len(set(archs)) == 200 and all('none' not in a for a in archs)
    assert benchmark_subnets(nb201_table, 200, seed=0)[0] == archs != benchmark_subnets(nb201_table, 200, seed=1)[0]
    assert truth == [nb201_table.accuracy(a, 'cifar10') for a in archs] and 40 < min(truth) < max(truth) < 95
    with pytest.raises(ValueError, match='4096'):
        benchmark_subnets(nb201_table, 5000)


def _cifar_cfg(shared_data, **kw):
    return SupernetConfig(dataset='cifar10', data_dir=str(shared_data), channels=4, image_size=8, train_limit=128,
                          epochs=1, seed=0, **kw)


def test_cifar_downsampling_and_equal_compute_between_spos2_and_rdnas(shared_data):
    spos = SupernetTrainer(_cifar_cfg(shared_data, method='spos', paths_per_step=2), log=None)
    assert spos.train_set.images.shape[1:] == spos.test_set.images.shape[1:] == (3, 8, 8)
    rd = SupernetTrainer(_cifar_cfg(shared_data, method='rdnas', teacher='flops'), log=None)
    rd2 = SupernetTrainer(_cifar_cfg(shared_data, method='rdnas', teacher='flops', pairs_per_step=2), log=None)
    for t in (spos, rd, rd2):
        t.train()
    assert spos.step == rd.step == rd2.step == 2
    assert spos.paths_trained == rd.paths_trained == 4 and rd2.paths_trained == 8
    with pytest.raises(ValueError, match='rank_loss'):
        _cifar_cfg(shared_data, rank_loss='listwise')


@pytest.mark.parametrize('rank_loss, bad_gets_rank_gradient', [('hinge', False), ('margin', True)])
def test_rank_loss_forms(shared_data, monkeypatch, rank_loss, bad_gets_rank_gradient):
    """The paper's hinge detaches the worse subnet's loss; the margin ranking loss pushes it up too."""
    import nni_rank.supernet.train as train_mod
    t = SupernetTrainer(_cifar_cfg(shared_data, method='rdnas', teacher='flops', rank_loss=rank_loss,
                                   rank_schedule='constant', rank_weight=1.0, rank_margin=50.0), log=None)
    x, y = next(iter(t.loader))
    losses, cross_entropy = [], train_mod.F.cross_entropy

    def recording_ce(logits, target):
        losses.append(cross_entropy(logits, target))
        return losses[-1]
    monkeypatch.setattr(train_mod.F, 'cross_entropy', recording_ce)
    loss, stats = t._rdnas_step(x, y)
    monkeypatch.undo()
    a, b = losses
    grads = torch.autograd.grad(loss, [a, b])
    assert stats['ranked'] == 1 and stats['rank'] > 0  # margin 50 makes the hinge active
    # d loss / d bad = 1 (CE) - lambda (rank) with the margin loss, 1 with the hinge
    assert sorted(round(float(g), 4) for g in grads) == ([0.0, 2.0] if bad_gets_rank_gradient else [1.0, 2.0])


def test_bench_rdnas_cifar_tiny_writes_per_seed_kendall_and_gain(shared_data, tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[1] / 'bench' / 'bench_rdnas_cifar.py'
    spec = importlib.util.spec_from_file_location('bench_rdnas_cifar', path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / 'r.json'
    table = str(shared_data / 'nb201_zc_reference_cifar10.csv')
    argv = ['x', '--preset', 'tiny', '--data-dir', str(shared_data), '--variants', 'spos2', 'rdnas-flops:rank_weight=4',
            'rdnas-naswot:teacher_table=full', '--teacher-table', table,
            '--seeds', '0', '1', '--out', str(out), '--name', 'tiny', '--teachers', 'flops', 'naswot:full']
    monkeypatch.setattr('sys.argv', argv)
    bench.main()
    setting = json.loads(out.read_text())['settings']['tiny']
    assert setting['subnets'] == 20
    spos, rd = setting['variants']['spos2'], setting['variants']['rdnas-flops:rank_weight=4']
    assert rd['config']['rank_weight'] == 4 and set(rd['seeds']) == {'0', '1'}
    assert rd['seeds']['0']['paths_trained'] == spos['seeds']['0']['paths_trained']
    assert len(rd['teacher_kendall']['values']) == 2 and 'teacher_kendall' not in spos
    # FLOPs are analytic: the zero-shot teacher figure is the RD-NAS runs' teacher figure, for every seed
    assert rd['teacher_kendall']['values'] == [setting['teachers_zero_shot']['flops']['kendall']] * 2
    assert rd['kendall_gain_over_spos'] == pytest.approx(rd['kendall']['mean'] - spos['kendall']['mean'])
    assert rd['baseline'] == 'spos2' and bench.equal_compute_baseline({'pairs_per_step': 2}) == 'spos4'
    # a teacher read from a full-size table: the runs rank with the table's scores, the same for every seed
    full = setting['variants']['rdnas-naswot:teacher_table=full']
    assert full['teacher_table'] == table
    assert full['teacher_kendall']['values'] == [setting['teachers_zero_shot']['naswot:full']['kendall']] * 2
    bench.main()  # every run is already there: nothing retrained
    assert json.loads(out.read_text())['settings']['tiny']['variants'] == setting['variants']
    with pytest.raises(ValueError, match='unknown variant'):
        bench.parse_variant('rdnas-zen')


def test_supernet_scorer_ranks_by_inherited_weights_and_reranks_a_proxy_head(digits, nb201_csv):
    from nni_rank.evaluators import BenchmarkEvaluator
    from nni_rank.experiment import run_benchmark_search
    from nni_rank.proxies.scorer import ProxyScorer
    from nni_rank.strategies.zero_cost import ZeroCostRandom
    from nni_rank.supernet.scorer import SupernetScorer
    train, test, _ = digits
    t = SupernetTrainer(SupernetConfig(method='spos', **SMALL), log=None)
    t.train()
    calib, held = calibration_batches(train, 1, 64), held_out_batches(test)
    archs = [UniformSampler(seed=s).sample() for s in range(6)]
    samples = [a.to_sample() for a in archs]
    scorer = SupernetScorer(t.net, calib, held)
    expected = [evaluate_subnet(t.net, a, calib, held)['accuracy'] for a in archs]
    assert scorer.scores(samples).tolist() == expected
    assert list(scorer.order(samples)) == sorted(range(6), key=lambda i: (-expected[i], i))
    base = ProxyScorer('params')
    head = SupernetScorer(t.net, calib, held, base=base, rerank=3)
    order, base_order = list(head.order(samples)), list(base.order(samples))
    assert order[3:] == base_order[3:] and sorted(order[:3]) == sorted(base_order[:3])
    assert order[:3] == sorted(base_order[:3], key=lambda i: (-expected[i], base_order.index(i)))
    assert len(head.cache) == 3
    from nni_rank.benchmarks import open_benchmark
    res = run_benchmark_search(ZeroCostRandom(pool_size=20, seed=0, scorer=head),
                               BenchmarkEvaluator(open_benchmark(nb201_csv), dataset='cifar10'), 5, seed=0)
    assert len(res.history) == 5 and len(head.cache) <= 3 + 3
    with pytest.raises(ValueError, match='by must be'):
        SupernetScorer(t.net, calib, held, by='flops')
