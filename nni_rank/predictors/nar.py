"""NAR, the Neural Architecture Ranker: a global quality-tier classifier with a pairwise-ranked score head.

The labelled architectures are sorted by accuracy and cut into ``K`` equal-frequency tiers (tier 0 = the best
``1/K``). The network encodes an architecture's feature vector (see :mod:`nni_rank.predictors.encoding`),
compares the code with one learned embedding per tier to classify it into a tier, and also emits a scalar
score trained with a pairwise logistic ranking loss. Loss = tier cross-entropy + ``rank_weight`` x pairwise
loss, as in the paper (which uses a transformer encoder/decoder; a small MLP encoder suffices on CPU).

:class:`TierStatistics` holds the per-position choice distributions of top-tier architectures, from which
the search samples new candidates directly (no RL, no evolution).
"""
from __future__ import annotations

import contextlib
import math
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ['NARPredictor', 'TierStatistics', 'tier_labels', 'RANK_MODES']

#: How :meth:`NARPredictor.rank_score` orders architectures.
RANK_MODES = ('blend', 'expected', 'score', 'tiered')


def tier_labels(y: np.ndarray, num_tiers: int) -> np.ndarray:
    """Global quality tier of each value by rank quantile: 0 for the best ``1/num_tiers``, then 1, ...

    Equal values share the better tier.
    """
    from scipy.stats import rankdata
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = rankdata(-y, method='min').astype(np.int64) - 1  # ties share the best rank
    tiers = (ranks * num_tiers) // len(y)
    return tiers


class _NARNet(nn.Module):
    """MLP encoder -> (tier logits against learned tier embeddings, pairwise score)."""

    def __init__(self, in_dim: int, hidden: int, num_tiers: int, layers: int, dropout: float, linear_skip: bool):
        super().__init__()
        blocks: list[nn.Module] = []
        width = in_dim
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.ReLU()]
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
            width = hidden
        self.encoder = nn.Sequential(*blocks)
        self.tier_embeddings = nn.Parameter(torch.randn(num_tiers, hidden) / math.sqrt(hidden))
        self.tier_bias = nn.Parameter(torch.zeros(num_tiers))
        self.score_head = nn.Linear(hidden, 1)
        self.linear = nn.Linear(in_dim, 1) if linear_skip else None  # wide path: strong single features (proxies)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        code = self.encoder(x)
        logits = code @ self.tier_embeddings.t() + self.tier_bias
        score = self.score_head(code).squeeze(-1)
        if self.linear is not None:
            score = score + self.linear(x).squeeze(-1)
        return logits, score


def _pairwise_logistic(score: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean of ``log(1 + exp(-(s_i - s_j)))`` over pairs with ``y_i > y_j``."""
    better = (y[:, None] - y[None, :]) > 0
    if not bool(better.any()):
        return score.sum() * 0.0
    diff = score[:, None] - score[None, :]
    return F.softplus(-diff[better]).mean()


class NARPredictor:
    """Train on (features, accuracy) pairs; predict tier probabilities and a ranking score.

    Parameters
    ----------
    num_tiers
        ``K``, number of global quality tiers (rank quantiles of the training set).
    hidden, layers, dropout
        Size of the MLP encoder.
    rank_weight
        Weight of the pairwise ranking loss on the score head (the paper's lambda; 0 disables it).
    epochs
        Full-batch optimisation steps per fit.
    lr, weight_decay
        AdamW settings.
    rank_mode
        ``'score'`` (default): the score head, trained with the ranking loss next to the tier loss;
        ``'blend'``: standardised expected tier + standardised score head;
        ``'expected'``: minus the expected tier under the tier probabilities;
        ``'tiered'``: the predicted tier first, the score head within it (the paper's order).
    ensemble
        Number of independently seeded networks whose outputs are averaged.
    linear_skip
        Add a linear function of the (standardised) inputs to the score head, a wide path that lets a few
        strong single features (zero-cost proxies) count from small samples on.
    compact_columns
        Also train a second NAR on these columns only (e.g. FLOPs, params and zero-cost proxies) and average
        its tier probabilities and standardised scores with the full model's: a low-dimensional view that
        generalises from few labels while the graph view takes over with more.
    bin_columns, bins
        Columns (e.g. zero-cost proxies) given to the network as a piecewise-linear encoding over ``bins``
        quantile bins of the training rows instead of as one raw value: column ``c`` becomes ``bins``
        inputs, ``clip((x - e[t-1]) / (e[t] - e[t-1]), 0, 1)`` for the bin edges ``e`` (fewer when values
        repeat). Each input is bounded and well scaled whatever the proxy's range or tails, and thresholds
        and bends of a proxy (which trees find by splitting) are one weight away. The compact view keeps
        its columns' encodings. None (default) leaves every column as it is.
    pair_batch
        The ranking loss of one step uses the pairs among at most this many random training rows.
    seed
        Seeds initialisation (network ``i`` uses ``seed + i``).
    device
        Torch device for training and inference.
    num_threads
        CPU threads torch may use while this predictor trains or predicts (restored afterwards); 1 is the
        fastest for a network this small. None leaves torch's setting alone.
    verbose
        Show a progress bar (epochs) while fitting.
    """

    def __init__(self, num_tiers: int = 5, *, hidden: int = 128, layers: int = 2, dropout: float = 0.0,
                 rank_weight: float = 1.0, epochs: int = 200, lr: float = 3e-3, weight_decay: float = 1e-3,
                 rank_mode: str = 'score', ensemble: int = 1, pair_batch: int = 256, seed: int = 0,
                 linear_skip: bool = False, compact_columns: Sequence[int] | None = None,
                 bin_columns: Sequence[int] | None = None, bins: int = 8,
                 device: str | torch.device = 'cpu', num_threads: int | None = 1, verbose: bool = False):
        if not isinstance(num_tiers, int) or num_tiers < 2:
            raise ValueError(f'num_tiers must be an integer >= 2, got {num_tiers!r}')
        if rank_mode not in RANK_MODES:
            raise ValueError(f'unknown rank_mode {rank_mode!r}; choose one of {RANK_MODES}')
        if epochs < 1 or hidden < 1 or layers < 1 or ensemble < 1:
            raise ValueError('epochs, hidden, layers and ensemble must be positive')
        if rank_weight < 0:
            raise ValueError(f'rank_weight must be >= 0, got {rank_weight}')
        self.num_tiers = num_tiers
        self.hidden, self.layers, self.dropout = hidden, layers, dropout
        self.rank_weight, self.epochs, self.lr, self.weight_decay = rank_weight, epochs, lr, weight_decay
        self.rank_mode, self.ensemble, self.seed = rank_mode, ensemble, seed
        self.pair_batch = max(2, int(pair_batch))
        self.num_threads = num_threads
        self.verbose = verbose
        self.linear_skip = linear_skip
        self.compact_columns = None if compact_columns is None else [int(c) for c in compact_columns]
        if not isinstance(bins, (int, np.integer)) or bins < 2:
            raise ValueError(f'bins must be an integer >= 2, got {bins!r}')
        self.bin_columns = None if bin_columns is None else [int(c) for c in bin_columns]
        self.bins = int(bins)
        self._edges: dict[int, np.ndarray] = {}  # binned input column -> its bin edges (training quantiles)
        self._in_dim: int | None = None
        self.device = torch.device(device)
        self._nets: list[tuple] = []  # (columns or None, network, training score mean, std)
        self._mean: np.ndarray | None = None
        self._std: np.ndarray | None = None
        self.train_tiers: np.ndarray | None = None

    def __repr__(self) -> str:
        return (f'NARPredictor(num_tiers={self.num_tiers}, hidden={self.hidden}, layers={self.layers}, '
                f'rank_weight={self.rank_weight}, epochs={self.epochs}, rank_mode={self.rank_mode!r}, '
                f'ensemble={self.ensemble}, seed={self.seed})')

    @property
    def fitted(self) -> bool:
        return bool(self._nets)

    # ------------------------------------------------------------------ training
    def fit(self, X: np.ndarray, y: Sequence[float]) -> 'NARPredictor':
        """Train from scratch on features ``X`` ``(n, d)`` and accuracies ``y`` (higher is better)."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float32)
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f'X must be (n, d) with one accuracy per row; got X {X.shape} and {len(y)} accuracies')
        if len(y) < 2:
            raise ValueError(f'NAR needs at least 2 labelled architectures to rank, got {len(y)}')
        if not np.all(np.isfinite(y)):
            raise ValueError('accuracies must be finite numbers (drop failed trials first)')
        d = X.shape[1]
        self._in_dim, self._edges = d, {}
        for c in self.bin_columns or ():
            if not -d <= c < d:
                raise ValueError(f'bin_columns must index the {d} feature columns, got {self.bin_columns}')
            edges = np.unique(np.quantile(X[:, c % d].astype(float), np.linspace(0.0, 1.0, self.bins + 1)))
            if len(edges) > 1:  # a constant column stays as it is
                self._edges[c % d] = edges
        X, colmap = self._expand(X)
        self._mean = X.mean(0)
        std = X.std(0)
        self._std = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        xt = torch.as_tensor((X - self._mean) / self._std, device=self.device)
        yt = torch.as_tensor(y, device=self.device)
        tiers = tier_labels(y, self.num_tiers)
        self.train_tiers = tiers
        tt = torch.as_tensor(tiers, device=self.device)
        views: list = [None]
        if self.compact_columns is not None:
            cols = list(self.compact_columns)
            if not cols or min(cols) < -d or max(cols) >= d:
                raise ValueError(f'compact_columns must index the {d} feature columns, got {cols}')
            expanded = [j for c in cols for j in colmap[c % d]]
            views.append(torch.as_tensor(np.asarray(expanded, dtype=np.int64), device=self.device))
        self._nets = []
        from ..runtime import progress
        bar = progress(total=len(views) * self.ensemble * self.epochs, desc='NAR fit', unit='epoch',
                       **({} if self.verbose else {'disable': True}))
        with _threads(self.num_threads), bar:
            for v, cols in enumerate(views):
                xv = xt if cols is None else xt[:, cols]
                for i in range(self.ensemble):
                    net = self._fit_one(xv, yt, tt, self.seed + 1000 * v + i, bar)
                    with torch.no_grad():
                        train_score = net(xv)[1]
                    self._nets.append((cols, net, float(train_score.mean()), float(train_score.std()) + 1e-9))
        return self

    def _fit_one(self, x: torch.Tensor, y: torch.Tensor, tiers: torch.Tensor, seed: int, bar) -> _NARNet:
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
        try:
            net = _NARNet(x.shape[1], self.hidden, self.num_tiers, self.layers, self.dropout,
                          self.linear_skip).to(self.device)
            opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            net.train()
            n = len(y)
            for _ in range(self.epochs):
                logits, score = net(x)
                loss = F.cross_entropy(logits, tiers)
                if self.rank_weight > 0:
                    if n > self.pair_batch:  # pairs among a random subset keep a step O(pair_batch^2)
                        rows = torch.randperm(n, device=self.device)[:self.pair_batch]
                        loss = loss + self.rank_weight * _pairwise_logistic(score[rows], y[rows])
                    else:
                        loss = loss + self.rank_weight * _pairwise_logistic(score, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                bar.update(1)
            net.eval()
        finally:
            torch.random.set_rng_state(gen_state)
        return net

    def _expand(self, X: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
        """Replace each binned column by its piecewise-linear encoding; also map input to network columns."""
        if not self._edges:
            return X, [[c] for c in range(X.shape[1])]
        parts, colmap, width = [], [], 0
        for c in range(X.shape[1]):
            edges = self._edges.get(c)
            if edges is None:
                block = X[:, c:c + 1]
            else:
                x = X[:, c:c + 1].astype(float)
                block = np.clip((x - edges[None, :-1]) / (edges[None, 1:] - edges[None, :-1]), 0.0, 1.0)
            parts.append(block.astype(np.float32))
            colmap.append(list(range(width, width + block.shape[1])))
            width += block.shape[1]
        return np.concatenate(parts, axis=1), colmap

    # ------------------------------------------------------------------ inference
    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float32)
        if self._mean is None:
            raise RuntimeError('NARPredictor is not fitted: call fit(X, y) first')
        if X.ndim != 2 or X.shape[1] != self._in_dim:
            raise ValueError(f'expected features of shape (n, {self._in_dim}), got {X.shape}')
        X = self._expand(X)[0]
        return torch.as_tensor((X - self._mean) / self._std, device=self.device)

    @torch.no_grad()
    def _outputs(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self._nets:
            raise RuntimeError('NARPredictor is not fitted: call fit(X, y) first')
        x = self._to_tensor(X)
        probs, scores = [], []
        with _threads(self.num_threads):
            for cols, net, mean, std in self._nets:  # scores standardised by their training-set spread
                logits, score = net(x if cols is None else x[:, cols])
                probs.append(F.softmax(logits, dim=-1))
                scores.append((score - mean) / std)
        return torch.stack(probs).mean(0).cpu().numpy(), torch.stack(scores).mean(0).cpu().numpy()

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Tier probabilities ``(n, K)``; column 0 is the top tier."""
        return self._outputs(X)[0]

    def predict_tier(self, X: np.ndarray) -> np.ndarray:
        """Most likely tier per architecture (0 = top)."""
        return self.predict_proba(X).argmax(1)

    def expected_tier(self, X: np.ndarray) -> np.ndarray:
        """Expected tier index under the predicted probabilities (lower is better)."""
        return self.predict_proba(X) @ np.arange(self.num_tiers, dtype=float)

    def score_head(self, X: np.ndarray) -> np.ndarray:
        """Raw output of the pairwise-ranked score head (higher is better)."""
        return self._outputs(X)[1]

    def rank_score(self, X: np.ndarray, mode: str | None = None) -> np.ndarray:
        """Ranking score, higher is better, per :attr:`rank_mode` (or ``mode``)."""
        mode = mode or self.rank_mode
        if mode not in RANK_MODES:
            raise ValueError(f'unknown rank mode {mode!r}; choose one of {RANK_MODES}')
        probs, score = self._outputs(X)
        expected = -(probs @ np.arange(self.num_tiers, dtype=float))
        if mode == 'expected':
            return expected
        if mode == 'score':
            return score.astype(float)
        if mode == 'tiered':  # the predicted tier dominates; the score head orders within a tier
            squashed = 1.0 / (1.0 + np.exp(-(score - score.mean()) / (score.std() + 1e-9)))
            return -probs.argmax(1).astype(float) * 2.0 + squashed
        return _standardise(expected) + _standardise(score)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Alias of :meth:`rank_score` (higher means predicted better)."""
        return self.rank_score(X)


@contextlib.contextmanager
def _threads(n: int | None):
    if n is None or n == torch.get_num_threads():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _standardise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return (v - v.mean()) / (v.std() + 1e-12)


class TierStatistics:
    """Per-position choice distributions estimated from (weighted) top-tier architectures.

    ``indices`` is an ``(n, P)`` matrix of choice indices (one column per position, e.g. the 6 NB201 edges);
    ``cardinalities[p]`` is the number of choices at position ``p``. Each distribution is the weighted
    frequency plus ``smoothing`` pseudo-counts per choice, so every choice keeps a non-zero probability.
    """

    def __init__(self, cardinalities: Sequence[int], smoothing: float = 0.5):
        if any(int(c) < 1 for c in cardinalities):
            raise ValueError(f'cardinalities must be positive, got {list(cardinalities)}')
        if smoothing < 0:
            raise ValueError(f'smoothing must be >= 0, got {smoothing}')
        self.cardinalities = [int(c) for c in cardinalities]
        self.smoothing = smoothing
        self.probs = [np.full(c, 1.0 / c) for c in self.cardinalities]

    def estimate(self, indices: np.ndarray, weights: np.ndarray | None = None) -> 'TierStatistics':
        indices = np.asarray(indices, dtype=np.int64).reshape(-1, len(self.cardinalities))
        w = np.ones(len(indices)) if weights is None else np.asarray(weights, dtype=float)
        self.probs = []
        for p, card in enumerate(self.cardinalities):
            counts = np.bincount(indices[:, p], weights=w, minlength=card)[:card] + self.smoothing
            total = counts.sum()
            self.probs.append(counts / total if total > 0 else np.full(card, 1.0 / card))
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, P)`` choice indices drawn position by position."""
        cols = [rng.choice(card, size=n, p=probs) for card, probs in zip(self.cardinalities, self.probs)]
        return np.stack(cols, axis=1) if cols else np.zeros((n, 0), dtype=np.int64)

    def log_prob(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1, len(self.cardinalities))
        return sum(np.log(self.probs[p][indices[:, p]]) for p in range(len(self.cardinalities)))

    def state_dict(self) -> dict:
        return {'cardinalities': self.cardinalities, 'smoothing': self.smoothing,
                'probs': [p.tolist() for p in self.probs]}
