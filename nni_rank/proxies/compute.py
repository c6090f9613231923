"""One call, several proxies, shared passes: :func:`compute_proxies`.

Passes (each run only when one of its proxies is requested):

1. **data pass** (one forward of the minibatch, train mode, BatchNorm on batch statistics):
   forward hooks record ReLU codes (``naswot``, ``das*``), Conv/Linear outputs (``fisher``) and
   MACs (``flops``); then

   * one backward of the cross-entropy to the weights and layer outputs: ``grad_norm``, ``snip``,
     ``fisher`` (with ``create_graph`` when ``grasp`` is requested);
   * ``grasp``: one more backward of ``g . g_detached`` gives the Hessian-vector product ``H g`` (or, with
     ``grasp_method='scale_invariant'``, one along the weights of layers not followed by BatchNorm);
   * ``zico`` (when named): one backward of the loss of each half of the batch, from the same forward;
   * one backward of the summed logits to the input: ``jacob_cov``'s Jacobian, and the liveness
     of each ReLU for ``naswot``/``das*``; without ``jacob_cov`` that liveness comes from a two-image
     probe instead, and the batch's forward runs without grad when no gradient proxy is asked for.

   The shared forward gives the same numbers as separate forwards because the batch statistics are
   the same; the model's BatchNorm running statistics are not updated.
2. **synflow**: its own float64 pass on absolute parameters, BatchNorm removed, all-ones input.
3. **cost**: ``params`` from the parameter list; ``flops`` from the data pass, or a batch-1
   forward when there is none.

A proxy that cannot be computed for the model (no path from input to output, a singular kernel,
an overflow...) is returned as ``float('nan')`` with a :class:`~nni_rank.proxies.common.ProxyWarning`
and its reason in ``report``; it never raises. Misuse raises a one-line :class:`ValueError` (unknown name,
empty batch, model without parameters, mismatched labels or labels outside the model's classes, inputs
the model rejects).
"""
from __future__ import annotations

import contextlib
import math
import time
import warnings
from typing import Callable, Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .activation import ActivationKernel, das_metrics, naswot_score, probe_liveness
from .common import ProxyWarning, proxy_mode, scored_layers
from .cost import MacCounter, count_flops, count_params
from .feature_pass import FEATURE_PROXIES, feature_pass
from .flow import synflow_score
from .grasp import GRASP_METHODS, grasp_scale_invariant, output_term, scale_invariant
from .gradient import OutputRecorder, fisher_score, grad_norm_score, grasp_score, snip_score
from .jacobian import jacob_cov_score
from .registry import PROXIES, resolve_names
from .vkdnw import vkdnw_score
from .zico import zico_from_pass

__all__ = ['compute_proxies', 'compute_proxy', 'nb201_network', 'score_nb201']

_GRAD = {'grad_norm', 'snip', 'fisher', 'grasp', 'zico'}
_FIRST_BACKWARD = _GRAD - {'zico'}  # from the one backward of the whole batch's loss
_ACT = {'naswot', 'das_distinguish', 'das_units', 'das'}
_LAYERWISE = {'grad_norm', 'snip', 'fisher', 'grasp', 'synflow', 'zico'}


def _check_model(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    if not isinstance(model, nn.Module):
        raise ValueError(f'compute_proxies needs a torch.nn.Module, got {type(model).__name__}')
    if next(model.parameters(), None) is None:
        raise ValueError(f'the model ({type(model).__name__}) has no parameters: zero-cost proxies '
                         'score the weights of an initialised network')
    layers = scored_layers(model)
    need = sorted(_LAYERWISE.intersection(names))
    if need and not layers:
        raise ValueError(f'the model ({type(model).__name__}) has no Conv2d/Linear layer, which '
                         f'{", ".join(need)} score (only their weights are scored)')
    return layers


def _check_batch(batch, names: Sequence[str], input_shape, class_ids: bool = True
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None, tuple]:
    """``(inputs, labels or None when no proxy uses them, per-sample input shape)``, checked; ``class_ids``:
    the labels feed the default cross-entropy, so they must be class ids (or soft labels of shape (N, C))."""
    data = [n for n in names if PROXIES[n].data_dependent]
    shape_needed = any(n in ('synflow', 'flops') for n in names)
    x = y = None
    if batch is not None:
        if isinstance(batch, torch.Tensor):
            x = batch
        elif isinstance(batch, (tuple, list)) and len(batch) >= 1:
            x = batch[0]
            y = batch[1] if len(batch) >= 2 else None
        else:
            raise ValueError('batch must be a tensor of inputs or a tuple (inputs, labels), '
                             f'got {type(batch).__name__}')
        if not isinstance(x, torch.Tensor):
            raise ValueError(f'batch inputs must be a torch.Tensor, got {type(x).__name__}')
        if x.dim() == 0 or x.shape[0] == 0:
            raise ValueError(f'the batch is empty (inputs of shape {tuple(x.shape)}); '
                             'zero-cost proxies need at least one image (the papers use 64-128)')
        if not x.is_floating_point():
            raise ValueError(f'batch inputs must be floating point, got {x.dtype}')
    if data and x is None:
        raise ValueError(f'{", ".join(data)} need a real minibatch: pass batch=(inputs, labels)')
    if any(PROXIES[n].needs_labels for n in names):
        if y is None:
            raise ValueError(f'{", ".join(n for n in names if PROXIES[n].needs_labels)} need labels: '
                             'pass batch=(inputs, labels)')
        try:
            y = torch.as_tensor(y)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f'labels must be a tensor of class ids, got {type(y).__name__}') from None
        if y.dim() == 0 or y.shape[0] != x.shape[0]:
            raise ValueError(f'batch has {x.shape[0]} inputs but {y.shape[0] if y.dim() else "scalar"} labels')
        if class_ids:
            y = _class_ids(y)
    else:
        y = None  # no requested proxy uses labels
    if input_shape is None:
        if x is None:
            if shape_needed:
                raise ValueError('synflow and flops need the input size: pass batch=(inputs, labels) '
                                 'or input_shape=(C, H, W)')
            input_shape = ()
        else:
            input_shape = tuple(x.shape[1:])
    return x, y, tuple(int(s) for s in input_shape)


def _class_ids(y: torch.Tensor) -> torch.Tensor:
    """Labels for the default cross-entropy: 1-D integer class ids >= 0 (as int64), or soft labels (N, C)."""
    if y.is_floating_point():
        if y.dim() != 2:
            raise ValueError(f'labels must be integer class ids (or soft labels of shape (N, classes)), got '
                             f'{y.dtype} of shape {tuple(y.shape)}')
        return y
    if y.dtype == torch.bool or y.is_complex() or y.dim() != 1:
        raise ValueError(f'labels must be a 1-D tensor of integer class ids, got {y.dtype} of shape {tuple(y.shape)}')
    low = int(y.min())
    if low < 0:
        raise ValueError(f'labels must be class ids >= 0, got {low}')
    return y.long()


def _check_outputs(logits: torch.Tensor, y: torch.Tensor) -> None:
    """The default cross-entropy's labels must fit the model's outputs (torch fails with a bare IndexError)."""
    if y.is_floating_point():
        if y.shape != logits.shape:
            raise ValueError(f'soft labels of shape {tuple(y.shape)} do not match the model outputs of shape '
                             f'{tuple(logits.shape)}')
        return
    if logits.dim() != 2:
        raise ValueError(f'the model outputs shape {tuple(logits.shape)}, not (batch, classes) logits for the '
                         'default cross-entropy (pass loss_fn=...)')
    top, classes = int(y.max()), logits.shape[1]
    if top >= classes:
        raise ValueError(f'label {top} is out of range for the model\'s {classes} outputs (class ids 0..{classes - 1})')


@contextlib.contextmanager
def _input_errors(shape: Sequence[int], dtype: torch.dtype):
    """Turn a torch error of the model's forward into a one-line ValueError naming the input it rejected."""
    try:
        yield
    except (RuntimeError, ValueError) as err:
        if isinstance(err, torch.OutOfMemoryError):
            raise
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f'the model rejected inputs of shape {tuple(shape)} ({str(dtype).replace("torch.", "")}): '
                         f'{first}') from err


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device('cpu')


def compute_proxies(model: nn.Module, batch=None, names: str | Iterable[str] | None = None, *,
                    loss_fn: Callable | None = None, device: str | torch.device = 'cpu', seed: int = 0,
                    input_shape: Sequence[int] | None = None, report: dict | None = None,
                    warn: bool = True, timings: dict | None = None,
                    grasp_method: str = 'double_backward') -> dict[str, float]:
    """Compute the zero-cost proxies ``names`` (default: all) of ``model`` on one minibatch.

    Parameters
    ----------
    model
        Any ``torch.nn.Module`` (NNI frozen models included), freshly initialised. It is moved to
        ``device`` for the computation and back afterwards; its parameters, buffers, gradients and
        train/eval flags are left as they were.
    batch
        ``(inputs, labels)``: one real training minibatch (the papers use 64 images for NB201).
        Data-independent proxies (``synflow``, ``params``, ``flops``) only use the input shape.
    names
        Proxy names or aliases (see :func:`~nni_rank.proxies.registry.available_proxies`).
    loss_fn
        ``loss_fn(logits, labels)``; cross-entropy by default.
    seed
        Torch's global RNG is forked and seeded with it for the computation (stochastic layers such
        as dropout): the same seed gives identical numbers.
    input_shape
        Per-sample input shape for data-independent proxies when no batch is given.
    report
        If a dict is given, it receives ``name -> reason`` for every proxy returned as NaN.
    warn
        Emit a :class:`ProxyWarning` for NaN results.
    timings
        If a dict is given, it receives the seconds spent per pass (``data``, ``synflow``, ``cost``).
    grasp_method
        ``'double_backward'`` (default): the Hessian-vector product ``H g`` of all layers, exact;
        ``'scale_invariant'``: the terms of layers followed by a train-mode BatchNorm from their gradient, one
        Hessian-vector product for the others (:mod:`nni_rank.proxies.grasp`): about 1.4x faster on NB201,
        off by BatchNorm's eps (median 2e-4 of the value, Kendall 0.999 over 60 NB201 cells).

    Returns
    -------
    dict
        ``name -> float`` in the order of ``names``; NaN for a proxy that is undefined for the model.
    """
    names = resolve_names(names)
    if grasp_method not in GRASP_METHODS:
        raise ValueError(f'grasp_method must be one of {", ".join(GRASP_METHODS)}, got {grasp_method!r}')
    layers = _check_model(model, names)
    loss_fn = F.cross_entropy if loss_fn is None else loss_fn
    x, y, shape = _check_batch(batch, names, input_shape, class_ids=loss_fn is F.cross_entropy)
    device = torch.device(device)
    results: dict[str, float] = {}
    reasons: dict[str, str] = {}

    def put(name: str, value: float, why: str | None = None) -> None:
        if name not in names:
            return
        if why is None and not math.isfinite(value):
            why = f'non-finite value {value!r}'
        if why is not None:
            value = float('nan')
            reasons[name] = why
        results[name] = float(value)

    orig_device = _model_device(model)
    moved = orig_device != device
    if moved:
        model.to(device)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            weights = [m.weight for m in layers]
            data_names = [n for n in names if PROXIES[n].data_dependent and n not in FEATURE_PROXIES
                          and n != 'vkdnw']
            t0 = time.perf_counter()
            feature_names = [n for n in names if n in FEATURE_PROXIES]
            if feature_names:  # block features: AZ-NAS components, zc_ensemble (own forward)
                with proxy_mode(model, weights, train=True):
                    feature_pass(model, x.to(device), feature_names, put,
                                 guard=lambda: _input_errors(x.shape, x.dtype))
            data_names = [n for n in data_names if n not in results]  # zc_ensemble's components came with it
            if data_names:
                with proxy_mode(model, weights, train=True):
                    _data_pass(model, layers, x.to(device), None if y is None else y.to(device),
                               names, loss_fn, put, grasp_method)
            if 'vkdnw' in names:  # its own functional pass (per-image Jacobians), eval mode
                put('vkdnw', *vkdnw_score(model, x.to(device)))
            t1 = time.perf_counter()
            if 'synflow' in names and 'synflow' not in results:
                with _input_errors((1, *shape), torch.float64):
                    put('synflow', *synflow_score(model, shape, device))
            t2 = time.perf_counter()
            if 'params' in names:
                put('params', count_params(model))
            if 'flops' in names and 'flops' not in results:
                dtype = x.dtype if x is not None else torch.float32
                with _input_errors((1, *shape), dtype):
                    put('flops', count_flops(model, shape, device, dtype))
            t3 = time.perf_counter()
    finally:
        if moved:
            model.to(orig_device)
    if timings is not None:
        timings.update(data=t1 - t0, synflow=t2 - t1, cost=t3 - t2)
    if report is not None:
        report.update(reasons)
    if reasons and warn:
        msg = '; '.join(f'{n}: {r}' for n, r in reasons.items())
        warnings.warn(f'proxies returned as NaN for {type(model).__name__}: {msg}', ProxyWarning, stacklevel=2)
    return {n: results[n] for n in names}


def _first_backward(loss, weights, layers, recorder, want, grasp_method, keep_graph, put) -> None:
    """The backward of the whole batch's loss: ``grad_norm``, ``snip``, ``fisher`` and ``grasp``."""
    outputs = recorder.outputs if recorder is not None else []
    fisher_acts = outputs if 'fisher' in want else []
    create = 'grasp' in want
    terms = []  # GraSP's non-invariant layer calls (scale_invariant method)
    invariant = create and grasp_method == 'scale_invariant' and all(
        o._version == v for o, v in zip(outputs, recorder.versions))  # else an in-place op changed an output
    if invariant:
        flags = scale_invariant(loss, weights)
        others = {id(m) for m, f in zip(layers, flags) if not f}
        terms = [(m, o) for m, o in zip(recorder.modules, outputs) if id(m) in others]
    targets = weights + fisher_acts + [o for _, o in terms]
    grads = torch.autograd.grad(loss, targets, retain_graph=create or keep_graph, create_graph=create,
                                allow_unused=True)
    wgrads = list(grads[:len(weights)])
    put('grad_norm', grad_norm_score(wgrads))
    put('snip', snip_score(weights, wgrads))
    if 'fisher' in want:
        put('fisher', fisher_score(fisher_acts, grads[len(weights):len(weights) + len(fisher_acts)],
                                   recorder.fan_ins))
    if not create:
        return
    if not any(g is not None and g.requires_grad for g in wgrads):
        put('grasp', float('nan'), 'the loss gradient does not depend on the weights')
    elif invariant:
        put('grasp', grasp_scale_invariant(weights, wgrads, [output_term(m, o) for m, o in terms],
                                           grads[len(weights) + len(fisher_acts):], retain_graph=keep_graph))
    else:
        z = sum((g.detach() * g).sum() for g in wgrads if g is not None and g.requires_grad)
        hg = torch.autograd.grad(z, weights, retain_graph=keep_graph, allow_unused=True)
        put('grasp', grasp_score(weights, hg))


def _data_pass(model, layers, x, y, names, loss_fn, put, grasp_method: str = 'double_backward',
               probe: bool = True) -> None:
    want = set(names)
    need_grad = bool(want & _GRAD)
    need_act = bool(want & _ACT)
    # live ReLUs from the backward jacob_cov runs anyway, else from a two-image probe (no backward of the batch)
    probed = None
    if need_act and probe and 'jacob_cov' not in want:
        try:
            probed = probe_liveness(model, x)
        except (RuntimeError, ValueError) as err:  # the batch's own pass decides (and reports the model's error)
            if isinstance(err, torch.OutOfMemoryError):
                raise
    need_input_grad = 'jacob_cov' in want or (need_act and probed is None)
    weights = [m.weight for m in layers]
    x = x.detach()
    if need_input_grad:
        x = x.clone().requires_grad_(True)

    acts = ActivationKernel(model, live=probed[0] if probed else None) if need_act else None
    recorder = OutputRecorder(layers) if 'fisher' in want or ('grasp' in want and grasp_method != 'double_backward') \
        else None
    macs = MacCounter(model) if 'flops' in want else None
    with torch.enable_grad() if need_grad or need_input_grad else torch.no_grad():
        hooks = [h for h in (acts, recorder, macs) if h is not None]
        for h in hooks:
            h.__enter__()
        try:
            with _input_errors(x.shape, x.dtype):
                out = model(x)
        finally:
            for h in hooks:
                h.__exit__(None, None, None)
        logits = out[0] if isinstance(out, (tuple, list)) else out
        if macs is not None:
            put('flops', macs.mflops)
        if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
            raise ValueError(f'the model must return a floating-point tensor of logits, got {type(logits).__name__}')

        if need_grad:
            if loss_fn is F.cross_entropy:
                _check_outputs(logits, y)
            loss = loss_fn(logits, y)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError('loss_fn must return a scalar tensor')
            if not torch.isfinite(loss):
                for n in want & _GRAD:
                    put(n, float('nan'), f'the loss is not finite ({float(loss)})')
            elif not loss.requires_grad:
                for n in want & _GRAD:
                    put(n, float('nan'), 'the loss does not depend on the scored weights')
            else:
                if 'zico' in want:  # per-part losses of the same forward, before the graph is freed
                    put('zico', *zico_from_pass(logits, y, loss_fn, weights))
                if want & _FIRST_BACKWARD:
                    _first_backward(loss, weights, layers, recorder, want, grasp_method,
                                    need_input_grad, put)
                    if recorder is not None:
                        recorder.outputs = []

        depends = None
        if need_input_grad:
            jac = None
            if logits.requires_grad:
                if acts is not None:
                    acts.tracking_liveness = True
                (jac,) = torch.autograd.grad(logits.sum(), x, allow_unused=True)
            if 'jacob_cov' in want:
                put('jacob_cov', *jacob_cov_score(jac))
            depends = jac is not None and bool(jac.ne(0).any())
        if acts is not None:
            acts.remove()
            if probed is not None and acts.called != probed[1]:  # the calls changed between passes
                _data_pass(model, layers, x, y, sorted(want & _ACT), loss_fn, put, probe=False)
                return
            _put_activation_proxies(acts, probed[2] if probed is not None else depends, want, put)


def _put_activation_proxies(acts: ActivationKernel, depends: bool, want, put) -> None:
    """NASWOT and DAS from the codes of the live ReLU calls; ``depends``: the output depends on the input."""
    why = None
    if acts.num_calls == 0:
        why = ('no nn.ReLU module was called in the forward pass (functional relu is not '
               'seen by NASWOT/DAS hooks)')
    elif not depends:
        why = 'the output does not depend on the input (no path from input to output)'
    if why is not None:
        for n in want & _ACT:
            put(n, float('nan'), why)
        return
    K, units = acts.kernel(live_only=True)
    put('naswot', *naswot_score(K))
    for n, (v, why) in das_metrics(K, units).items():
        put(n, v, why)


def compute_proxy(model: nn.Module, batch=None, name: str = 'synflow', **kwargs) -> float:
    """One proxy's value (see :func:`compute_proxies` for the keyword arguments)."""
    (value,) = compute_proxies(model, batch, [name], **kwargs).values()
    return value


# ---------------------------------------------------------------------- NAS-Bench-201 convenience
def nb201_network(arch, num_classes: int = 10, seed: int | None = 0, **kwargs) -> nn.Module:
    """Freshly initialised NB201 network for ``arch`` (PyTorch default init drawn with ``seed``).

    Uses the fast builder :func:`nni_rank.spaces.nb201_net.build_nb201`; torch's global RNG is
    forked, so the caller's random state is unchanged. ``seed=None`` draws from the global RNG.
    """
    from nni_rank.spaces.nb201_net import build_nb201
    if seed is None:
        return build_nb201(arch, num_classes=num_classes, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_nb201(arch, num_classes=num_classes, **kwargs)


def score_nb201(arch, batch=None, names: str | Iterable[str] | None = None, *, seed: int = 0,
                num_classes: int = 10, **kwargs) -> dict[str, float]:
    """Build the NB201 network of ``arch`` with init seed ``seed`` and compute its proxies."""
    net = nb201_network(arch, num_classes=num_classes, seed=seed)
    return compute_proxies(net, batch, names, seed=seed, **kwargs)
