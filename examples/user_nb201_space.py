"""NAS-Bench-201 written the way an NNI user writes a space: a plain ``ModelSpace`` with its own labels.

Nothing here is recognised as NAS-Bench-201 by nni-rank: the labels are ``edge_a`` .. ``edge_f`` and the
op names and their order are this file's own, so every strategy sees a generic space, builds networks
with ``model_space.freeze(sample)`` and looks results up in a table keyed by these labels.
:func:`write_user_table` re-keys the NAS-Bench-201 CSV into that table (one column per label, one per metric)::

    python examples/user_nb201_space.py ../shared/data/nb201_test_accuracy_200ep.csv user_nb201.csv
    nni-rank search --space user_nb201_space:UserNB201Space --benchmark user_nb201.csv --strategy zc-rea
"""
from __future__ import annotations

import csv
import sys

from nni.nas.nn.pytorch import LayerChoice, ModelSpace
from torch import nn

#: Edge label -> (from node, to node) of the four-node cell.
EDGES = {'edge_a': (0, 1), 'edge_b': (0, 2), 'edge_c': (1, 2), 'edge_d': (0, 3), 'edge_e': (1, 3), 'edge_f': (2, 3)}
#: This space's op names, in its own order, with the NAS-Bench-201 op each one is.
OPS = {'conv3x3': 'nor_conv_3x3', 'avgpool': 'avg_pool_3x3', 'zero': 'none', 'conv1x1': 'nor_conv_1x1',
       'identity': 'skip_connect'}
_NB201_EDGES = {(0, 1): 0, (0, 2): 1, (1, 2): 2, (0, 3): 3, (1, 3): 4, (2, 3): 5}  # position in an arch string


class Zero(nn.Module):
    def forward(self, x):
        return x.mul(0.0)


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out))


def make_op(name: str, channels: int) -> nn.Module:
    if name == 'conv3x3':
        return conv_bn(channels, channels, 3)
    if name == 'conv1x1':
        return conv_bn(channels, channels, 1)
    if name == 'avgpool':
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    if name == 'identity':
        return nn.Identity()
    return Zero()


class Cell(nn.Module):
    """Node j sums its incoming edges; every edge is one ``LayerChoice``, shared by label across cells."""

    def __init__(self, channels: int):
        super().__init__()
        self.edges = nn.ModuleDict({label: LayerChoice({op: make_op(op, channels) for op in OPS}, label=label)
                                    for label in EDGES})

    def forward(self, x):
        nodes = [x]
        for j in (1, 2, 3):
            nodes.append(sum(self.edges[label](nodes[i]) for label, (i, dst) in EDGES.items() if dst == j))
        return nodes[3]


class Reduction(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a, self.conv_b = conv_bn(c_in, c_out, 3, 2), conv_bn(c_out, c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x):
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)


class UserNB201Space(ModelSpace):
    """Stem, three stages of ``cells`` cells (16, 32, 64 channels) with reductions between them, head."""

    def __init__(self, channels: int = 16, cells: int = 5, num_classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage:
                layers.append(Reduction(c, 2 * c))
                c *= 2
            layers.extend(Cell(c) for _ in range(cells))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(c, num_classes))

    def forward(self, x):
        return self.head(self.cells(self.stem(x)))


def op_name(module: nn.Module) -> str:
    """The op name of a chosen edge module of a frozen model."""
    if isinstance(module, Zero):
        return 'zero'
    if isinstance(module, nn.Identity):
        return 'identity'
    if isinstance(module, nn.AvgPool2d):
        return 'avgpool'
    return 'conv3x3' if module[1].kernel_size == (3, 3) else 'conv1x1'


def sample_of(model: UserNB201Space) -> dict[str, str]:
    """The choices of a frozen model (what a ``FunctionalEvaluator`` looking results up needs)."""
    return {label: op_name(model.cells[0].edges[label]) for label in EDGES}


def arch_str_to_sample(arch_str: str) -> dict[str, str]:
    """The sample of this space that is the NAS-Bench-201 cell ``arch_str``."""
    ops = [tok.split('~')[0] for node in arch_str.strip('|').split('|+|') for tok in node.split('|')]
    ours = {nb201: name for name, nb201 in OPS.items()}
    return {label: ours[ops[_NB201_EDGES[edge]]] for label, edge in EDGES.items()}


def write_user_table(nb201_csv: str, out_csv: str) -> int:
    """Re-key a NAS-Bench-201 CSV (``arch_str`` + metric columns) by this space's labels; returns the rows."""
    with open(nb201_csv, newline='') as f_in, open(out_csv, 'w', newline='') as f_out:
        reader = csv.DictReader(f_in)
        metrics = [c for c in reader.fieldnames or [] if c not in ('index', 'arch_str')]
        writer = csv.writer(f_out)
        writer.writerow([*EDGES, *metrics])
        n = 0
        for row in reader:
            sample = arch_str_to_sample(row['arch_str'])
            writer.writerow([*(sample[label] for label in EDGES), *(row[m] for m in metrics)])
            n += 1
    return n


if __name__ == '__main__':
    print(f'{write_user_table(sys.argv[1], sys.argv[2])} rows written to {sys.argv[2]}')
