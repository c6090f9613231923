"""Your own space, end to end: a MobileNetV2-style macro space, its table, and the head-to-head of strategies.

    python examples/macro_space.py --out macro-results [--seeds 5 --budget 60]

``MacroSpace`` is a plain NNI ``ModelSpace``: eight layers, one ``LayerChoice`` each (labels ``layer0`` ..
``layer7``), candidates ``identity`` / inverted residual 3x3 expansion 3 (``ir3_t3``) / inverted residual 5x5
expansion 6 (``ir5_t6``), stages of 2/3/3 layers with stride 2 at each stage start (those layers change
the shape, so they have no ``identity``). The script writes the space's benchmark table (one column per
label, one per metric) and runs the project's strategies beside NNI's on it, exactly what

    nni-rank compare --space macro_space:MacroSpace --benchmark OUT/macro_table.csv \\
        --strategies zc-rea,nar,rea,random --seeds 5 --budget 60 --out OUT/compare

does from this folder. With ``--nnictl`` it also writes an ``nnictl`` experiment on the same table instead
(``OUT/nnictl/config.yml``: the project's ZcREA tuner with ``classArgs: {space: .../macro_space.py:MacroSpace}``,
each trial a lookup by ``python -m nni_rank.trial --space ...``; run it with ``nnictl create --config ...``
after ``nni-rank register``). The table here is a *stand-in*: its accuracy is a fixed formula of the choices
(bigger kernels and expansions help, with diminishing returns, plus a fixed per-architecture jitter),
so the example runs without training; put your measured accuracies in the same columns instead.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import sys
from pathlib import Path

from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from torch import nn

#: (output channels, stride) of each layer: stages of 2/3/3 layers, stride 2 at each stage start
LAYERS = [(24, 2), (24, 1), (40, 2), (40, 1), (40, 1), (80, 2), (80, 1), (80, 1)]
OPS = ('identity', 'ir3_t3', 'ir5_t6')


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expansion, depthwise kxk (stride), 1x1 projection; residual when shapes match."""

    def __init__(self, c_in: int, c_out: int, kernel: int, expansion: int, stride: int):
        super().__init__()
        hidden = c_in * expansion
        self.residual = stride == 1 and c_in == c_out
        self.block = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(),
            nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        return x + self.block(x) if self.residual else self.block(x)


def candidates(c_in: int, c_out: int, stride: int) -> dict[str, nn.Module]:
    ops = {'ir3_t3': InvertedResidual(c_in, c_out, 3, 3, stride), 'ir5_t6': InvertedResidual(c_in, c_out, 5, 6, stride)}
    if stride == 1 and c_in == c_out:
        ops = {'identity': nn.Identity(), **ops}
    return ops


class MacroSpace(ModelSpace):
    """Eight searchable layers between a stem and a classifier, for 3x32x32 inputs."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        layers, c_in = [], 16
        for i, (c_out, stride) in enumerate(LAYERS):
            layers.append(LayerChoice(candidates(c_in, c_out, stride), label=f'layer{i}'))
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))

    def forward(self, x):
        return self.head(self.layers(self.stem(x)))


def stand_in_accuracy(sample: dict[str, str]) -> float:
    """A fixed formula standing in for measured accuracy (see the module docstring)."""
    gain = {'identity': 0.0, 'ir3_t3': 1.0, 'ir5_t6': 1.6}
    depth = sum(gain[sample[f'layer{i}']] * (1.0 + 0.15 * i) for i in range(len(LAYERS)))
    jitter = int(hashlib.md5(repr(sorted(sample.items())).encode()).hexdigest()[:6], 16) / 16**6 - 0.5
    return round(80.0 + 12.0 * (1 - 2.718 ** (-depth / 6.0)) + 0.6 * jitter, 4)


def write_table(path: str | Path) -> int:
    """The space's table (one column per label, ``test_acc``): every one of its 1,944 samples."""
    choices = [list(candidates(16 if i == 0 else LAYERS[i - 1][0], c, s)) for i, (c, s) in enumerate(LAYERS)]
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([*(f'layer{i}' for i in range(len(LAYERS))), 'test_acc'])
        n = 0
        for ops in itertools.product(*choices):
            sample = {f'layer{i}': op for i, op in enumerate(ops)}
            writer.writerow([*ops, stand_in_accuracy(sample)])
            n += 1
    return n


def write_nnictl_experiment(folder: str | Path, table: str | Path, trials: int = 30, tuner: str = 'ZcREA',
                            class_args: dict | None = None) -> Path:
    """An ``nnictl`` config (and its search space JSON) searching this space on ``table``; returns the config path."""
    import json

    from nni_rank.spaces.adapter import adapter_for
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    space = f'{Path(__file__).resolve()}:MacroSpace'
    (folder / 'search_space.json').write_text(json.dumps(adapter_for(MacroSpace()).search_space(), indent=1))
    class_args = {'optimize_mode': 'maximize', 'seed': 0, 'space': space, **(class_args or {})}
    (folder / 'config.yml').write_text(
        f'experimentName: macro-space-{tuner.lower()}\n'
        f'searchSpaceFile: {folder / "search_space.json"}\n'
        f'trialCommand: {sys.executable} -m nni_rank.trial --space {space} --benchmark {Path(table).resolve()}\n'
        f'trialCodeDirectory: {folder}\n'
        'trialConcurrency: 1\n'
        f'maxTrialNumber: {trials}\n'
        f'tuner:\n  name: {tuner}\n  classArgs: {json.dumps(class_args)}\n'
        'trainingService:\n  platform: local\n')
    return folder / 'config.yml'


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='macro-results')
    p.add_argument('--strategies', default='zc-rea,nar,rea,random')
    p.add_argument('--seeds', type=int, default=5)
    p.add_argument('--budget', type=int, default=60)
    p.add_argument('--cache-dir', help='proxy score cache')
    p.add_argument('--nnictl', action='store_true', help='write OUT/nnictl/config.yml (an nnictl experiment with the '
                                                          'ZcREA tuner) instead of running the comparison')
    args = p.parse_args(argv)
    from nni_rank.experiment.compare import run_comparison, write_report
    from nni_rank.spaces.adapter import adapter_for
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / 'macro_table.csv'
    print(f'{write_table(table)} samples written to {table}')
    if args.nnictl:
        config = write_nnictl_experiment(out / 'nnictl', table, trials=args.budget)
        print(f'written {config}: nni-rank register && nnictl create --config {config}')
        return {'config': str(config)}
    comp = run_comparison(table, args.strategies.split(','), range(args.seeds), args.budget,
                          space=adapter_for(MacroSpace()), options={'zc-rea': {'pool_size': 200}},
                          cache_dir=args.cache_dir, runs_dir=out / 'compare' / 'runs')
    write_report(comp, out / 'compare')
    print(comp.markdown())
    return comp.summary()


if __name__ == '__main__':
    sys.exit(main() and 0)
