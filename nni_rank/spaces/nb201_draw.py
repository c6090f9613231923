"""Draw a NAS-Bench-201 cell: its 4 nodes and 6 edges, each edge labelled with its op."""
from __future__ import annotations

import os
from pathlib import Path

from .nb201 import EDGES, NB201Arch

#: Colour per op; ``none`` edges are drawn dashed and grey (no connection).
OP_COLOURS = {'none': '#b0b0b0', 'skip_connect': '#2c7bb6', 'nor_conv_1x1': '#fdae61',
              'nor_conv_3x3': '#d7191c', 'avg_pool_3x3': '#1a9641'}
_NODE_XY = {0: (0.0, 0.0), 1: (1.0, 0.0), 2: (2.0, 0.0), 3: (3.0, 0.0)}
_CURVE = {(0, 1): 0.0, (1, 2): 0.0, (2, 3): 0.0, (0, 2): 0.45, (1, 3): -0.45, (0, 3): 0.8}


def draw_nb201_cell(arch, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write a PNG of ``arch`` (any representation :meth:`NB201Arch.parse` takes) to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch

    from ..files import atomic_path
    cell = NB201Arch.parse(arch)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
    for (src, dst), op in zip(EDGES, cell.ops):
        (x0, y0), (x1, y1) = _NODE_XY[src], _NODE_XY[dst]
        rad = _CURVE[(src, dst)]
        dead = op == 'none'
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f'arc3,rad={-rad}',
                                     arrowstyle='-|>', mutation_scale=14, lw=1.2 if dead else 2.2,
                                     ls='--' if dead else '-', color=OP_COLOURS[op], shrinkA=16, shrinkB=16))
        # label at the middle of the arc (arc3 control point is offset by rad * length, perpendicular)
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2 + rad * (x1 - x0) / 2
        ax.text(mx, my, op, ha='center', va='center', fontsize=8, color=OP_COLOURS[op],
                bbox=dict(boxstyle='round,pad=0.2', fc='white', ec='none', alpha=0.9))
    for node, (x, y) in _NODE_XY.items():
        ax.add_patch(plt.Circle((x, y), 0.13, fc='white', ec='black', lw=1.4, zorder=3))
        ax.text(x, y, 'in' if node == 0 else 'out' if node == 3 else str(node), ha='center', va='center',
                fontsize=9, zorder=4)
    ax.set_xlim(-0.4, 3.4)
    ax.set_ylim(-0.9, 1.45)
    ax.set_aspect('equal')
    ax.axis('off')
    ax.set_title(title or cell.to_str(), fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png')
    plt.close(fig)
    return Path(path)
