"""How a zero-cost search orders its candidates: by a proxy, then by proxies weighted with the labels it paid for.

A :class:`ProxyGuide` orders candidates by its ``scorer`` (synflow by default) until ``learn_after`` architectures
have been evaluated; from then on, if ``learn`` names proxies, by a :class:`~nni_rank.predictors.ProxyRanker` of those
proxies refitted to every label the search has received. The labels are the search's own queries, so the guide
costs no extra query; the proxies' quantiles are taken over every candidate the guide has scored (the warm-up pool
first), never over labels.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from ..predictors.proxy_ranker import ProxyRanker
from ..proxies.common import rank_with_nan_last
from ..proxies.registry import PROXIES, resolve_names
from ..proxies.scorer import ProxyScorer

__all__ = ['ProxyGuide', 'sample_key']


def sample_key(sample: dict) -> str:
    """A sample's identity in a search (its labels and values, sorted)."""
    return repr(sorted(sample.items()))


class ProxyGuide:
    """Orders candidates best first (see the module docstring).

    Parameters
    ----------
    scorer
        Orders candidates before ``learn_after`` labels (and always when ``learn`` is empty).
    learn
        Proxies whose weights are fitted to the labels (names or comma-separated); None or empty: never learn.
    learn_after
        Labels needed before the fitted ranker takes over (at least 2).
    alpha
        The ranker's ridge penalty, towards the ``scorer``'s own weights (its proxies among ``learn``, or zero
        weights when none is): small values follow the labels sooner.
    """

    def __init__(self, scorer: Any, learn: str | Iterable[str] | None = None, learn_after: int = 3,
                 alpha: float = 0.1):
        if isinstance(learn, str):
            learn = [p for p in learn.split(',') if p.strip()]
        self.scorer, self.learn_after, self.alpha = scorer, int(learn_after), float(alpha)
        self.learn = resolve_names(learn) if learn else []
        if self.learn and self.learn_after < 2:
            raise ValueError(f'learn_after must be >= 2 labels, got {learn_after}')
        self.features = None
        if self.learn:
            if not isinstance(scorer, ProxyScorer):
                raise ValueError(f'learning proxy weights needs a ProxyScorer, got {type(scorer).__name__}')
            names = list(dict.fromkeys([*scorer.names, *self.learn]))
            self.features = scorer.with_proxies(names)
            self._prior = [names.index(n) for n in scorer.names]
            self._learned = [names.index(n) for n in self.learn]
            # the ranker starts from the prior proxy's own order: its weight, signed, shared among its names
            prior = [n for n in self.learn if n in scorer.names]
            self._prior_weights = np.array([(1.0 if PROXIES[n].higher_is_better else -1.0) / len(prior)
                                            if n in prior else 0.0 for n in self.learn])
        self._reference: dict[str, np.ndarray] = {}  # candidate key -> learned proxies' raw values
        self._labels: dict[str, tuple[dict, float]] = {}  # evaluated key -> (sample, label)
        self._ranker: ProxyRanker | None = None
        self._fitted_on = 0

    def __repr__(self) -> str:
        if not self.learn:
            return repr(self.scorer)
        return f'ProxyGuide({self.scorer!r}, learn={",".join(self.learn)}, learn_after={self.learn_after})'

    def observe(self, sample: dict, label: float | None) -> None:
        """Record the label of an evaluated sample (None or NaN: ignored)."""
        if self.learn and label is not None and np.isfinite(label):
            self._labels[sample_key(sample)] = (dict(sample), float(label))

    @property
    def learning(self) -> bool:
        """Whether candidates are now ordered by the fitted ranker."""
        return bool(self.learn) and len(self._labels) >= self.learn_after

    def scores(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """One score per sample, higher is better (NaN: undefined)."""
        if not self.learn:
            return self.scorer.scores(samples, model_space)
        keys = [sample_key(s) for s in samples]
        if self.learning and all(k in self._reference for k in keys):  # re-ranking candidates scored before
            return self._fit(model_space).predict(np.array([self._reference[k] for k in keys]))
        raw = self.features.raw_scores(samples, model_space)
        for key, row in zip(keys, raw):
            self._reference.setdefault(key, row[self._learned])
        if not self.learning:
            return ProxyScorer.combine(raw[:, self._prior], self.scorer.names)
        return self._fit(model_space).predict(raw[:, self._learned])

    def order(self, samples: Sequence[dict], model_space=None) -> np.ndarray:
        """Indices of ``samples`` best first (undefined scores last, ties in input order)."""
        if not self.learn:
            return self.scorer.order(samples, model_space)
        s = np.asarray(self.scores(samples, model_space), dtype=float)
        return np.argsort(rank_with_nan_last(np.where(np.isfinite(s), s, np.nan)), kind='stable')

    def _fit(self, model_space) -> ProxyRanker:
        if self._ranker is None or self._fitted_on != len(self._labels):
            samples = [s for s, _ in self._labels.values()]
            X = self.features.raw_scores(samples, model_space)[:, self._learned]
            y = np.array([y for _, y in self._labels.values()])
            reference = np.vstack(list(self._reference.values())) if self._reference else X
            self._ranker = ProxyRanker(alpha=self.alpha, reference=reference, prior=self._prior_weights).fit(X, y)
            self._fitted_on = len(self._labels)
        return self._ranker

    def state_dict(self) -> dict:
        return {'labels': [[s, y] for s, y in self._labels.values()]}

    def load_state_dict(self, state: dict) -> None:
        self._labels = {}
        for sample, label in state.get('labels', []):
            self.observe(sample, label)
        self._ranker = None
