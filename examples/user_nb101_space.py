"""NAS-Bench-101 written the way an NNI user writes a space: 21 edge bits and five vertex ops, its own labels.

Nothing here is recognised as NAS-Bench-101 by nni-rank: the labels are ``e0_1`` .. ``e5_6`` (an edge from
vertex i to vertex j of the seven-vertex cell, ``0`` or ``1``) and ``v1`` .. ``v5`` (the op of vertex i, this
file's own names and order). The cell's topology changes with the sample, so the space reads its choices with
``ensure_frozen`` and is re-created for a sample (``freeze``), as NNI's documentation shows for such spaces.
A sample whose cell has no input-to-output path or more than nine live edges violates the space's constraint.

:func:`write_user_table` re-keys the NAS-Bench-101 CSV by these labels: a user's table of the architectures
they trained. It covers 500 of the space's 2^21 * 3^5 samples, so searches run restricted to the table
(``--restrict-to-table``)::

    python examples/user_nb101_space.py ../shared/data/nb101_500_valid_accuracy.csv user_nb101.csv
    nni-rank search --space examples/user_nb101_space.py:UserNB101Space --benchmark user_nb101.csv \\
        --strategy zc-rea --restrict-to-table
"""
from __future__ import annotations

import csv
import sys

import nni
from nni.mutable import ensure_frozen
from nni.mutable.exception import ConstraintViolation
from nni.nas.nn.pytorch import ModelSpace
from nni.nas.space import model_context
import torch
from nasbench_pytorch.model.model import Cell

VERTICES = 7
#: Edge labels of the upper-triangular adjacency matrix, row-major.
EDGES = tuple(f'e{i}_{j}' for i in range(VERTICES) for j in range(i + 1, VERTICES))
#: Vertex labels (the five op vertices between input and output).
VERTEX_OPS = tuple(f'v{i}' for i in range(1, VERTICES - 1))
#: This space's op names, in its own order, with the NAS-Bench-101 op each one is.
OPS = {'pool': 'maxpool3x3', 'conv1': 'conv1x1-bn-relu', 'conv3': 'conv3x3-bn-relu'}
#: The cell the un-sampled space shows (input -> v1 -> output; every other edge off).
_DEFAULT_ON = {'e0_1', 'e1_6'}


def cell_of(sample: dict) -> tuple[list[list[int]], list[str]]:
    """The adjacency matrix and NAS-Bench-101 op list of a sample of this space."""
    matrix = [[0] * VERTICES for _ in range(VERTICES)]
    for label in EDGES:
        i, j = (int(v) for v in label[1:].split('_'))
        matrix[i][j] = int(sample[label])
    return matrix, ['input', *(OPS[sample[v]] for v in VERTEX_OPS), 'output']


class TraceableCell(Cell):
    """``nasbench_pytorch``'s cell with a forward that torch.fx can trace (its ``truncate`` branches on a tensor):
    the same sums, concatenation and projections, channel counts as Python ints."""

    def forward(self, x):
        n, tensors, out = self.num_vertices, [x], []
        for t in range(1, n - 1):
            fan_in = [tensors[src][:, :self.vertex_channels[t]] for src in range(1, t) if self.matrix[src, t]]
            if self.matrix[0, t]:
                fan_in.append(self.input_op[t](x))
            tensors.append(self.vertex_op[t](sum(fan_in[1:], fan_in[0])))
            if self.matrix[t, n - 1]:
                out.append(tensors[t])
        if not out:
            return self.last_inop(x)
        outputs = out[0] if len(out) == 1 else torch.cat(out, 1)
        return outputs + self.last_inop(x) if self.matrix[0, n - 1] else outputs


class UserNB101Space(ModelSpace):
    """A NAS-Bench-101 network (stem, three stacks of three cells, head) of the sampled cell."""

    def __init__(self, stem_channels: int = 128, num_classes: int = 10):
        super().__init__()
        sample = {}
        for label in EDGES:
            bit = nni.choice(label, [1, 0] if label in _DEFAULT_ON else [0, 1])
            self.add_mutable(bit)
            sample[label] = ensure_frozen(bit)
        for label in VERTEX_OPS:
            op = nni.choice(label, list(OPS))
            self.add_mutable(op)
            sample[label] = ensure_frozen(op)
        self.sample_args = (stem_channels, num_classes)
        from nni_rank.spaces.nb101 import InvalidArchitecture, NB101Arch, build_nb101
        try:
            arch = NB101Arch(*cell_of(sample))
            arch.prune()
        except InvalidArchitecture as err:
            raise ConstraintViolation(f'not a NAS-Bench-101 cell: {err}') from None
        self.net = build_nb101(arch, num_classes=num_classes, stem_out_channels=stem_channels)
        for module in self.net.modules():
            if isinstance(module, Cell):
                module.__class__ = TraceableCell

    def freeze(self, sample):
        with model_context(sample):
            return UserNB101Space(*self.sample_args)

    def forward(self, x):
        return self.net(x)


def row_to_sample(adjacency: str, ops: str) -> dict:
    """The sample of this space for a row of the NAS-Bench-101 CSV (49-bit adjacency, ``|``-joined ops)."""
    ours = {nb101: name for name, nb101 in OPS.items()}
    names = ops.split('|')[1:-1]
    sample = {label: int(adjacency[int(label[1]) * VERTICES + int(label[3])]) for label in EDGES}
    sample.update({label: ours[op] for label, op in zip(VERTEX_OPS, names)})
    return sample


def write_user_table(nb101_csv: str, out_csv: str) -> int:
    """Re-key the NAS-Bench-101 CSV by this space's labels: its accuracy, FLOPs and params (what a user trained and
    counted; the CSV's reference proxy values are left out). Returns the number of rows."""
    with open(nb101_csv, newline='') as f_in, open(out_csv, 'w', newline='') as f_out:
        reader = csv.DictReader(f_in)
        metrics = [c for c in ('val_accuracy', 'flops', 'params') if c in (reader.fieldnames or [])]
        writer = csv.writer(f_out)
        writer.writerow([*EDGES, *VERTEX_OPS, *metrics])
        n = 0
        for row in reader:
            sample = row_to_sample(row['adjacency_7x7_rowmajor'], row['ops'])
            writer.writerow([*(sample[label] for label in (*EDGES, *VERTEX_OPS)), *(row[m] for m in metrics)])
            n += 1
    return n


if __name__ == '__main__':
    print(f'{write_user_table(sys.argv[1], sys.argv[2])} rows written to {sys.argv[2]}')
