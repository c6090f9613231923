"""``jacob_cov`` (Mellor et al. 2020, as in the zero-cost reference code).

``J`` = gradient of the summed logits with respect to the input, one row per image; ``C`` = the
correlation matrix of the rows; with ``l`` its eigenvalues and ``k = 1e-5``,
``score = -sum(log(l + k) + 1 / (l + k))`` (higher is better: less correlated Jacobians).
"""
from __future__ import annotations

import math

import torch

JACOB_COV_K = 1e-5


def jacob_cov_score(jacobian: torch.Tensor | None) -> tuple[float, str | None]:
    """Score from the per-image input Jacobians ``(B, ...)``; ``(nan, reason)`` when undefined."""
    if jacobian is None:
        return float('nan'), 'the output does not depend on the input (no input gradient)'
    J = jacobian.detach().reshape(jacobian.shape[0], -1).to(torch.float64)
    if J.shape[0] < 2:
        return float('nan'), 'jacob_cov needs a batch of at least 2 images'
    if not bool(J.ne(0).any()):
        return float('nan'), 'the output does not depend on the input (zero input Jacobian)'
    if not torch.isfinite(J).all():
        return float('nan'), 'input Jacobian has non-finite entries'
    Jc = J - J.mean(1, keepdim=True)
    norms = Jc.norm(dim=1)
    if bool((norms == 0).any()):
        return float('nan'), 'input Jacobian is constant for some image (e.g. output independent of the input)'
    Jn = Jc / norms[:, None]
    C = Jn @ Jn.t()
    v = torch.linalg.eigvalsh(C)
    val = -float((torch.log(v + JACOB_COV_K) + 1.0 / (v + JACOB_COV_K)).sum())
    if not math.isfinite(val):
        return float('nan'), 'correlation matrix has eigenvalues below -1e-5 (numerically invalid)'
    return val, None
