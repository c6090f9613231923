"""The feature maps between a network's blocks, found on any ``nn.Module`` (for the AZ-NAS scores).

AZ-NAS scores the outputs of a network's successive blocks (on NAS-Bench-201: the stem and each of the
17 cells). :func:`find_blocks` finds them generically: among the ``nn.Sequential``/``nn.ModuleList``
containers (nested containers flattened), the one with the most *composite* members (modules that
have sub-modules: cells, residual blocks, stages) is the network's main stack, and its members are the
blocks; a network made of plain layers only uses the longest container's layers. An explicit list
overrides the guess: give the model a ``proxy_blocks`` attribute (modules, or names from
``named_modules()``), or pass ``blocks=`` to :class:`BlockRecorder`.

:class:`BlockRecorder` records, during one forward, the input of the first block (the stem's output)
and every block output that is a floating-point tensor of rank 2 or 4 (``(N, C)`` or ``(N, C, H, W)``),
in call order.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

CONTAINER_TYPES: tuple[type, ...] = (nn.Sequential, nn.ModuleList)

#: Attribute a model may define to choose its blocks (modules or ``named_modules()`` names).
BLOCKS_ATTRIBUTE = 'proxy_blocks'


def _flatten(container: nn.Module) -> list[nn.Module]:
    out: list[nn.Module] = []
    for child in container.children():
        out.extend(_flatten(child) if isinstance(child, CONTAINER_TYPES) else [child])
    return out


def find_blocks(model: nn.Module) -> list[nn.Module]:
    """The model's blocks: its ``proxy_blocks`` attribute, else the members of its main container.

    Raises ``ValueError`` for a ``proxy_blocks`` name the model does not have.
    """
    chosen = getattr(model, BLOCKS_ATTRIBUTE, None)
    if chosen is not None:
        return resolve_blocks(model, chosen)
    best: list[nn.Module] = []
    best_key = (0, 0)
    for m in model.modules():
        if isinstance(m, CONTAINER_TYPES):
            flat = _flatten(m)
            key = (sum(1 for b in flat if next(b.children(), None) is not None), len(flat))
            if key > best_key:
                best, best_key = flat, key
    return best


def resolve_blocks(model: nn.Module, blocks: Sequence[nn.Module | str]) -> list[nn.Module]:
    """Modules from a list of modules or ``named_modules()`` names of ``model``."""
    named = dict(model.named_modules())
    out = []
    for b in blocks:
        if isinstance(b, str):
            if b not in named:
                raise ValueError(f'{type(model).__name__} has no module named {b!r} (proxy blocks)')
            b = named[b]
        if not isinstance(b, nn.Module):
            raise ValueError(f'proxy blocks must be modules or module names, got {type(b).__name__}')
        out.append(b)
    return out


def _is_feature(t) -> bool:
    return isinstance(t, torch.Tensor) and t.is_floating_point() and t.dim() in (2, 4)


class BlockRecorder:
    """Forward hooks collecting the feature maps between blocks (context manager around one forward).

    After the forward, :attr:`features` holds the first block's input (when it is not the model input
    itself and is a feature map) followed by each block output, in call order.
    """

    def __init__(self, model: nn.Module, blocks: Sequence[nn.Module | str] | None = None):
        self.blocks = find_blocks(model) if blocks is None else resolve_blocks(model, blocks)
        self.features: list[torch.Tensor] = []
        self._model_input: torch.Tensor | None = None
        self._handles: list = []

    def __enter__(self) -> 'BlockRecorder':
        self.features = []
        if self.blocks:
            self._handles.append(self.blocks[0].register_forward_pre_hook(self._pre_hook))
        for b in dict.fromkeys(self.blocks):  # a module listed twice is hooked once
            self._handles.append(b.register_forward_hook(self._hook))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def watch_input(self, x: torch.Tensor) -> None:
        """Tell the recorder the model input, so that a first block fed by it does not record it."""
        self._model_input = x

    def _pre_hook(self, module, inputs) -> None:
        if not self.features and inputs and _is_feature(inputs[0]) and inputs[0] is not self._model_input:
            self.features.append(inputs[0])

    def _hook(self, module, inputs, output) -> None:
        if _is_feature(output):
            self.features.append(output)
