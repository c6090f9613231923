"""Program properties of any PyTorch model, read from its ``torch.fx`` graph (alpha-NAS's depth and mixing).

Works on plain ``nn.Module`` s and on frozen NNI models (``model_space.freeze(sample)``, see
:func:`space_properties`). Every graph node is classified as

* *linear* (convolutions, linear layers, normalisation, average pooling, additions, concatenation ...);
* *non-linear* (ReLU, GELU, SiLU, sigmoid, tanh, softmax, max pooling ...);
* *neutral* (shape plumbing: view, flatten, size, dropout, identity ...), which does not count;
* *zero* (multiplication by the constant 0, NAS-Bench's ``none`` op), which cuts the path.

From the input(s) to the output, over all paths:

* ``depth_max`` / ``depth_min``: the largest / smallest number of alternations between linear and
  non-linear ops along a path (alpha-NAS's depth property);
* ``spatial`` / ``channel``: some path mixes spatial positions (a kernel wider than 1, pooling,
  interpolation) / channels (a conv with fewer groups than input channels, a linear layer, matmul);
  ``spatial_all`` / ``channel_all``: every path does;
* ``params``, and ``flops`` (multiply-accumulates of convs, linear layers and matmuls) when an example
  input is given, each with a log2 bucket (``floor(log2(millions))``).

Models ``torch.fx`` cannot trace (data-dependent control flow, unsupported calls) raise
:class:`UntraceableModel`, naming the innermost module being traced when it failed.

Example::

    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 1), nn.ReLU(),
    ...                     nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    >>> p = traced_properties(net, torch.randn(1, 3, 32, 32))
    >>> p.depth_max, p.spatial_all, p.channel_all, p.params, p.flops
    (4, True, True, 386, 252080)

With an NNI space: ``space_properties(NasBench201(), sample, torch.randn(1, 3, 32, 32))``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
import torch.fx as fx
from torch import nn

__all__ = ['TracedProperties', 'UntraceableModel', 'traced_properties', 'space_properties', 'classify_node']

LINEAR, NONLINEAR, NEUTRAL, ZERO = 'linear', 'nonlinear', 'neutral', 'zero'

_NONLINEAR_MODULES = (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Softmax, nn.LogSoftmax,
                      nn.LeakyReLU, nn.ELU, nn.PReLU, nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.SELU, nn.Softplus,
                      nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
_NEUTRAL_MODULES = (nn.Identity, nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Unflatten)
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d)
_POOL_LINEAR = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
                nn.AdaptiveAvgPool3d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)
_NONLINEAR_FUNCS = {'relu', 'relu_', 'relu6', 'gelu', 'silu', 'sigmoid', 'tanh', 'softmax', 'log_softmax', 'leaky_relu',
                    'elu', 'hardswish', 'hardsigmoid', 'mish', 'selu', 'softplus', 'max_pool1d', 'max_pool2d',
                    'max_pool3d', 'adaptive_max_pool2d', 'max', 'amax', 'clamp', 'clip', 'abs', 'exp', 'log'}
_NEUTRAL_FUNCS = {'size', 'view', 'reshape', 'flatten', 'permute', 'transpose', 'contiguous', 'dropout', 'squeeze',
                  'unsqueeze', 'getitem', 'getattr', 'chunk', 'split', 'expand', 'clone', 'detach', 'to', 'type',
                  'float', 'dim', 'numel'}
_SPATIAL_FUNCS = {'avg_pool1d', 'avg_pool2d', 'avg_pool3d', 'adaptive_avg_pool1d', 'adaptive_avg_pool2d', 'max_pool1d',
                  'max_pool2d', 'max_pool3d', 'adaptive_max_pool2d', 'interpolate', 'upsample', 'mean'}
_CHANNEL_FUNCS = {'linear', 'matmul', 'mm', 'bmm', 'einsum', 'conv1d', 'conv2d', 'conv3d',
                  'scaled_dot_product_attention'}


class UntraceableModel(ValueError):
    """``torch.fx`` cannot trace the model; the message names the module and the reason."""


@dataclass(frozen=True)
class TracedProperties:
    """Properties of a traced model (see the module docstring)."""

    reachable: bool
    depth_max: int
    depth_min: int
    spatial: bool
    channel: bool
    spatial_all: bool
    channel_all: bool
    params: int
    flops: int | None
    params_bucket: int
    flops_bucket: int | None
    num_nodes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _name(target: Any) -> str:
    return target if isinstance(target, str) else getattr(target, '__name__', str(target)).lower()


def classify_node(node: fx.Node, modules: Mapping[str, nn.Module]) -> tuple[str, bool, bool]:
    """``(kind, spatial, channel)`` of one node: kind is linear / nonlinear / neutral / zero."""
    if node.op in ('placeholder', 'output', 'get_attr'):
        return NEUTRAL, False, False
    if node.op == 'call_module':
        m = modules[node.target]
        if isinstance(m, _NONLINEAR_MODULES):
            k = getattr(m, 'kernel_size', 1)
            return NONLINEAR, isinstance(m, (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)) or _wide(k), False
        if isinstance(m, _NEUTRAL_MODULES):
            return NEUTRAL, False, False
        if isinstance(m, _CONV):
            return LINEAR, _wide(m.kernel_size), m.groups < m.in_channels or m.in_channels == 1
        if isinstance(m, nn.Linear):
            return LINEAR, False, True
        if isinstance(m, _POOL_LINEAR):
            adaptive = 'Adaptive' in type(m).__name__
            return LINEAR, adaptive or _wide(m.kernel_size), False
        if isinstance(m, (nn.Upsample,)):
            return LINEAR, True, False
        if isinstance(m, nn.MultiheadAttention):
            return NONLINEAR, True, True
        if isinstance(m, _NORM) or not list(m.children()):
            return LINEAR, False, isinstance(m, (nn.LayerNorm, nn.GroupNorm))
        return LINEAR, False, False
    name = _name(node.target).rstrip('_') if node.op == 'call_method' else _name(node.target)
    if name in ('mul', 'mul_') and any(isinstance(a, (int, float)) and a == 0 for a in node.args):
        return ZERO, False, False
    if name in ('zeros_like',):
        return ZERO, False, False
    if name in _NONLINEAR_FUNCS:
        return NONLINEAR, name in _SPATIAL_FUNCS, False
    if name in _NEUTRAL_FUNCS:
        return NEUTRAL, False, False
    return LINEAR, name in _SPATIAL_FUNCS, name in _CHANNEL_FUNCS


def _wide(kernel: Any) -> bool:
    kernel = kernel if isinstance(kernel, (tuple, list)) else (kernel,)
    return any(int(k) > 1 for k in kernel)


class _NamingTracer(fx.Tracer):
    """An fx tracer that remembers which module it is inside, to name the culprit when tracing fails."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str]] = []

    def call_module(self, m, forward, args, kwargs):
        self.stack.append((self.path_of_module(m), type(m).__name__))
        out = super().call_module(m, forward, args, kwargs)
        self.stack.pop()
        return out


def _trace(model: nn.Module) -> fx.GraphModule:
    tracer = _NamingTracer()
    try:
        graph = tracer.trace(model)
    except Exception as err:  # fx raises TraceError, TypeError, RuntimeError ... depending on the construct
        where = f'module {tracer.stack[-1][0] or "<root>"!r} ({tracer.stack[-1][1]})' if tracer.stack \
            else f'the forward of {type(model).__name__}'
        raise UntraceableModel(f'torch.fx cannot trace {type(model).__name__}: it failed in {where}: '
                               f'{type(err).__name__}: {err}. Make that op traceable (no Python control flow '
                               'on tensor values) or wrap it with torch.fx.wrap') from None
    return fx.GraphModule(tracer.root, graph)


def _flops(gm: fx.GraphModule, example_inputs: tuple) -> int:
    from torch.fx.passes.shape_prop import ShapeProp
    with torch.no_grad():
        ShapeProp(gm).propagate(*example_inputs)
    modules = dict(gm.named_modules())
    total = 0
    for node in gm.graph.nodes:
        meta = node.meta.get('tensor_meta')
        if node.op != 'call_module' or meta is None or not hasattr(meta, 'shape'):
            continue
        m = modules[node.target]
        out = math.prod(meta.shape)
        if isinstance(m, _CONV):
            total += out * (m.in_channels // m.groups) * math.prod(m.kernel_size)
        elif isinstance(m, nn.Linear):
            total += out * m.in_features
    return total


def _bucket(value: float | None) -> int | None:
    if value is None:
        return None
    return int(math.floor(math.log2(value / 1e6))) if value > 0 else -100


def traced_properties(model: nn.Module, example_inputs: Any = None) -> TracedProperties:
    """Trace ``model`` with ``torch.fx`` and compute its depth, mixing and size properties.

    ``example_inputs`` (a tensor or tuple of tensors) enables FLOPs; raises :class:`UntraceableModel`.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f'traced_properties needs a torch.nn.Module, got {type(model).__name__}')
    gm = _trace(model)
    modules = dict(gm.named_modules())
    # per node: (max alternations, min alternations, last kind, spatial any, channel any, spatial all, channel all)
    state: dict[fx.Node, list[tuple]] = {}
    result = None
    for node in gm.graph.nodes:
        kind, spatial, channel = classify_node(node, modules)
        if node.op == 'placeholder':
            state[node] = [(0, 0, None, False, False, False, False)]
            continue
        incoming = [s for arg in node.all_input_nodes for s in state.get(arg, [])]
        if not incoming or kind == ZERO:
            continue
        merged: dict[Any, tuple] = {}
        for dmax, dmin, last, s_any, c_any, s_all, c_all in incoming:
            step = 1 if kind in (LINEAR, NONLINEAR) and last is not None and last != kind else 0
            new_last = kind if kind in (LINEAR, NONLINEAR) else last
            cand = (dmax + step, dmin + step, new_last, s_any or spatial, c_any or channel, s_all or spatial,
                    c_all or channel)
            prev = merged.get(new_last)
            merged[new_last] = cand if prev is None else (
                max(prev[0], cand[0]), min(prev[1], cand[1]), new_last, prev[3] or cand[3], prev[4] or cand[4],
                prev[5] and cand[5], prev[6] and cand[6])
        state[node] = list(merged.values())
        if node.op == 'output':
            result = state[node]
    params = sum(p.numel() for p in model.parameters())
    flops = None
    if example_inputs is not None:
        inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
        flops = _flops(gm, inputs)
    if not result:
        return TracedProperties(False, 0, 0, False, False, False, False, params, flops, _bucket(params),
                                _bucket(flops), len(gm.graph.nodes))
    return TracedProperties(True, max(r[0] for r in result), min(r[1] for r in result), any(r[3] for r in result),
                            any(r[4] for r in result), all(r[5] for r in result), all(r[6] for r in result),
                            params, flops, _bucket(params), _bucket(flops), len(gm.graph.nodes))


def space_properties(model_space: Any, sample: Mapping[str, Any], example_inputs: Any = None) -> TracedProperties:
    """Properties of the model an NNI ``ModelSpace`` yields for ``sample`` (``model_space.freeze(sample)``)."""
    from nni.mutable import SampleValidationError
    try:
        model = model_space.freeze(dict(sample))
    except SampleValidationError as err:
        raise ValueError(f'sample is not valid for {type(model_space).__name__}: {err}') from None
    return traced_properties(model, example_inputs)

