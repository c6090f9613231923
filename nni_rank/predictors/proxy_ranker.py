"""A ranker of zero-cost proxy values fitted to the labels a search has paid for.

No single proxy ranks every space: synflow is strong on NAS-Bench-201 and weak on NAS-Bench-101, where the
parameter count ranks better and ``jacob_cov`` ranks backwards. :class:`ProxyRanker` learns the weights and signs
of several proxies from the few architectures a search has already evaluated: each proxy becomes its empirical
CDF over a reference population of candidates (the search's warm-up pool; no labels), and a ridge regression maps
those quantiles to the quantile of the label among the evaluated ones. Only the order of its predictions is used.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge

__all__ = ['ProxyRanker', 'quantiles']


def quantiles(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each column of ``values`` as its empirical CDF over the same column of ``reference`` (NaN: 0, the lowest)."""
    values, reference = np.atleast_2d(values).astype(float), np.atleast_2d(reference).astype(float)
    out = np.zeros_like(values)
    for k in range(values.shape[1]):
        ref = np.sort(reference[np.isfinite(reference[:, k]), k])
        col = values[:, k]
        finite = np.isfinite(col)
        if ref.size:
            out[finite, k] = np.searchsorted(ref, col[finite], side='right') / ref.size
    return out


class ProxyRanker(BaseEstimator, RegressorMixin):
    """Ridge regression from proxy quantiles to label quantiles (scikit-learn estimator).

    Parameters
    ----------
    alpha
        Ridge penalty towards ``prior`` (0.1, the zero-cost strategies' ``learn_alpha``): smaller follows the labels
        sooner.
    reference
        ``(n, k)`` proxy values of the candidate population that defines each proxy's quantiles; None: the
        ``X`` given to :meth:`fit`.
    prior
        Weights the ridge shrinks towards instead of zero (e.g. ``(1, 0, 0)``: the first proxy alone, until the
        labels say otherwise); None: zero.
    """

    def __init__(self, alpha: float = 0.1, reference: np.ndarray | None = None, prior: np.ndarray | None = None):
        self.alpha = alpha
        self.reference = reference
        self.prior = prior

    def fit(self, X: np.ndarray, y: np.ndarray) -> 'ProxyRanker':
        X, y = np.atleast_2d(np.asarray(X, dtype=float)), np.asarray(y, dtype=float).ravel()
        if len(X) != len(y):
            raise ValueError(f'ProxyRanker.fit: {len(X)} rows of proxy values but {len(y)} labels')
        if len(y) < 2:
            raise ValueError(f'ProxyRanker.fit needs at least two labelled architectures, got {len(y)}')
        if not np.isfinite(y).all():
            raise ValueError('ProxyRanker.fit: labels must be finite')
        self.reference_ = X if self.reference is None else np.atleast_2d(np.asarray(self.reference, dtype=float))
        if self.reference_.shape[1] != X.shape[1]:
            raise ValueError(f'ProxyRanker: reference has {self.reference_.shape[1]} proxies, X has {X.shape[1]}')
        self.prior_ = np.zeros(X.shape[1]) if self.prior is None else np.asarray(self.prior, dtype=float).ravel()
        if self.prior_.shape != (X.shape[1],):
            raise ValueError(f'ProxyRanker: prior has {self.prior_.size} weights, X has {X.shape[1]} proxies')
        q = quantiles(X, self.reference_)
        self.ridge_ = Ridge(alpha=float(self.alpha)).fit(q, rankdata(y) / len(y) - q @ self.prior_)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted label quantile of each row (higher is better)."""
        q = quantiles(np.asarray(X, dtype=float), self.reference_)
        return self.ridge_.predict(q) + q @ self.prior_

    @property
    def weights_(self) -> np.ndarray:
        """The fitted weight of each proxy's quantile (its sign says which way the proxy ranks this space)."""
        return self.ridge_.coef_ + self.prior_
