"""NASWOT and the two DAS atomic metrics, from binary ReLU activation codes.

NASWOT (Mellor et al., BayesWatch/nas-without-training): for every ReLU, the binary code of each
image ``c = (pre-activation > 0)``; ``K = sum over ReLUs of c c^T + (1 - c)(1 - c)^T`` (per pair of
images: the number of units minus their Hamming distance); score ``log|det K|``.

DAS (Liu et al. 2022) splits it: with ``N_A`` the number of activation units per image (the length
of the concatenated code), ``K = N_A * K~`` where ``K~ = J - D_H / N_A`` is the normalised agreement
kernel (1 on the diagonal), so ``log|K| = B log N_A + log|K~|``:

* ``das_units`` = ``N_A`` (the count itself);
* ``das_distinguish`` = ``log|det K~|`` (how differently the ``B`` images are coded, size-free);
* ``das`` = ``log|det K~| + DAS_UNITS_WEIGHT * B * log N_A``: NASWOT is the weight-1 case.

Which ReLUs count
-----------------
Only ``nn.ReLU``/``nn.ReLU6``/``nn.LeakyReLU`` *modules* are seen (forward hooks); a functional
``F.relu``/``torch.relu`` call inside a ``forward`` is invisible and is simply not counted (a model
with no ReLU module gets NaN with a warning). Like the original code, which only keeps ReLUs reached
by the backward pass, a ReLU counts only when it is *live*: its output receives a non-zero gradient
of the summed logits with respect to the input (so ReLUs on NB201 edges that cannot reach the
cell output, or that only see constant zeros, are left out). When no backward of the batch is run anyway
(``jacob_cov`` not asked for), liveness comes from a forward and backward of two of its images
(:func:`probe_liveness`) and the batch itself only needs a forward without grad; if the ReLU calls of the
two passes differ, the batch's own backward decides. The binary code is read from the
output (``out > 0`` equals ``in > 0`` for these activations; for ReLU/ReLU6, whose output is never
negative, its sign is the code), which is also correct for ``inplace=True`` ReLUs. ReLUs called on the very same tensor (NB201 edges leaving one node) share
one kernel computation; a module called several times counts once per call.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

#: Activation module types hooked by NASWOT/DAS.
ACTIVATION_TYPES: tuple[type, ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)

#: Weight of the unit-count term in :func:`das_score` (1.0 would give NASWOT back).
DAS_UNITS_WEIGHT = 2.0


class ActivationKernel:
    """Forward hooks on ReLU modules accumulating the NASWOT kernel of one pass.

    Use as a context manager around the forward. Which calls are live either comes in ``live`` (one flag per
    ReLU call, from :func:`probe_liveness`: dead calls are not even coded) or from a backward of the summed
    logits run afterwards with :attr:`tracking_liveness` set; then read :meth:`kernel`. With ``codes=False``
    only the calls and their liveness are recorded (the probe).
    """

    _CACHE = 4  # recent distinct inputs remembered for sharing (edges leaving one NB201 node)

    def __init__(self, model: nn.Module, live: list[bool] | None = None, codes: bool = True):
        self.modules = [m for m in model.modules() if isinstance(m, ACTIVATION_TYPES)]
        self._handles: list = []
        self._entries: list[tuple[torch.Tensor, int] | None] = []  # (per-layer kernel, units) per distinct input
        self._calls: list[int] = []                           # entry index of each hooked call
        self.called: list[nn.Module] = []                      # module of each hooked call
        self._given = live
        self._live: list[bool] = []
        self._codes = codes
        self._recent: list[tuple[torch.Tensor, int, int]] = []  # (input tensor, version, entry index)
        self.tracking_liveness = False

    # ------------------------------------------------------------------ hooks
    def __enter__(self) -> 'ActivationKernel':
        for m in self.modules:
            self._handles.append(m.register_forward_hook(self._hook))
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._recent.clear()

    def _hook(self, module, inputs, output) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() < 1:
            return
        call = len(self._calls)
        given = self._given is not None
        live = given and call < len(self._given) and self._given[call]
        src = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
        entry = None
        if src is not None and src is not output:  # in-place ReLU: the input tensor is the output
            for t, ver, idx in self._recent:
                if t is src and ver == src._version:
                    entry = idx
                    break
        if entry is None:
            entry = len(self._entries)
            self._entries.append(None)
            if src is not None and src is not output:
                self._recent.append((src, src._version, entry))
                del self._recent[:-self._CACHE]
        if self._codes and (live or not given) and self._entries[entry] is None:
            self._entries[entry] = _layer_kernel(output.detach(), nonnegative=not isinstance(module, nn.LeakyReLU))
        self._calls.append(entry)
        self.called.append(module)
        self._live.append(live)
        if not given and output.requires_grad:
            output.register_hook(self._grad_hook(call))

    def _grad_hook(self, call: int):
        def hook(grad: torch.Tensor):
            if self.tracking_liveness and not self._live[call] and bool(grad.detach().ne(0).any()):
                self._live[call] = True
        return hook

    # ------------------------------------------------------------------ results
    @property
    def num_calls(self) -> int:
        return len(self._calls)

    @property
    def num_live(self) -> int:
        return int(sum(self._live))

    @property
    def live(self) -> list[bool]:
        """Liveness of each call so far."""
        return list(self._live)

    def kernel(self, live_only: bool = True) -> tuple[torch.Tensor | None, int]:
        """``(K, N_A)``: the float64 kernel summed over (live) ReLU calls and the units per image."""
        K, units = None, 0
        for call, entry in enumerate(self._calls):
            if live_only and not self._live[call]:
                continue
            k, n = self._entries[entry]
            K = k.clone() if K is None else K.add_(k)
            units += n
        return K, units


def probe_liveness(model: nn.Module, x: torch.Tensor) -> tuple[list[bool], list[nn.Module], bool]:
    """Which ReLU calls are live, from a forward and backward of two images of the batch ``x`` (no codes):
    ``(flag per call, module per call, whether the output depends on the input)``. Torch's RNG is left as it was."""
    probe = ActivationKernel(model, codes=False)
    x = x[:2].detach().clone().requires_grad_(True)
    devices = [x.device] if x.device.type == 'cuda' else []
    with torch.random.fork_rng(devices=devices), torch.enable_grad(), probe:
        out = model(x)
    logits = out[0] if isinstance(out, (tuple, list)) else out
    depends = False
    if isinstance(logits, torch.Tensor) and logits.requires_grad:
        probe.tracking_liveness = True
        (jac,) = torch.autograd.grad(logits.sum(), x, allow_unused=True)
        depends = jac is not None and bool(jac.ne(0).any())
    return probe.live, probe.called, depends


def _layer_kernel(out: torch.Tensor, nonnegative: bool = True) -> tuple[torch.Tensor, int]:
    """Per-layer NASWOT kernel ``c c^T + (1-c)(1-c)^T`` (float64, exact) and its unit count; ``nonnegative``:
    the output of a ReLU/ReLU6, whose sign already is the 0/1 code."""
    b = out.shape[0]
    flat = out.reshape(b, -1)
    n = flat.shape[1]
    # 0/1 products summed in float32 are exact integers while n < 2**24
    dtype = torch.float32 if n < 2 ** 24 else torch.float64
    cf = flat.sign().to(dtype) if nonnegative else (flat > 0).to(dtype)
    g = (cf @ cf.t()).to(torch.float64)
    s = cf.sum(1, dtype=torch.float64)
    # (1-c_i).(1-c_j) = n - |c_i| - |c_j| + c_i.c_j
    k = 2.0 * g - s[:, None] - s[None, :] + float(n)
    return k, n


def logdet_psd(K: torch.Tensor) -> tuple[float, str | None]:
    """``log det K`` of a PSD kernel, or ``(nan, reason)`` when it is singular or not finite."""
    if K is None:
        return float('nan'), 'no live ReLU activation was recorded'
    if not torch.isfinite(K).all():
        return float('nan'), 'kernel has non-finite entries'
    sign, logabs = torch.linalg.slogdet(K)
    val = float(logabs)
    if float(sign) <= 0 or not math.isfinite(val):
        return float('nan'), 'kernel is singular (identical activation codes for some images)'
    return val, None


def naswot_score(K: torch.Tensor | None) -> tuple[float, str | None]:
    return logdet_psd(K)


def das_metrics(K: torch.Tensor | None, units: int, weight: float = DAS_UNITS_WEIGHT) -> dict[str, tuple[float, str | None]]:
    """``das_distinguish``, ``das_units`` and ``das`` (each ``(value, reason-if-nan)``) from the kernel."""
    if K is None or units <= 0:
        reason = 'no live ReLU activation was recorded'
        return {'das_distinguish': (float('nan'), reason), 'das_units': (float('nan'), reason),
                'das': (float('nan'), reason)}
    b = K.shape[0]
    dist, why = logdet_psd(K / float(units))
    out = {'das_distinguish': (dist, why), 'das_units': (float(units), None)}
    out['das'] = (dist + weight * b * math.log(units), None) if why is None else (float('nan'), why)
    return out
