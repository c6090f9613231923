"""REINFORCE over the choices of a search space: NAS-Bench-201's reinforcement-learning baseline as an NNI tuner.

NNI's RL tuner (``PPOTuner``) needs TensorFlow, and its ``PolicyBasedRL`` strategy only runs inside a
``NasExperiment``; this tuner gives ``nnictl`` configs an RL baseline (``tuner: {name: Reinforce}``
after ``nni-rank register``) and is the ``reinforce`` strategy of ``nni-rank search``/``compare``.

The policy is one independent softmax per label (all logits start at 0: uniform), trained by REINFORCE
(Williams, 1992) on ``reward - baseline`` with Adam, the baseline being a bias-corrected exponential
moving average of the rewards, as in the NAS-Bench-201 paper's REINFORCE; every result is one policy
step. With ``dedup`` (default) a sample that was already asked for is not proposed again: the policy is
sampled again at a rising temperature (``p ** (1 / 1.25 ** k)`` at the k-th redraw) until an unseen sample
comes up, so a converged policy explores next to its mode. Failed trials are never proposed again and
teach the policy nothing.
"""
from __future__ import annotations

import json
import logging
import math
from typing import Any

import nni
import numpy as np
from nni.tuner import Tuner
from nni.utils import ClassArgsValidator, extract_scalar_reward

from .args import ClassArgs, init_args, use_threads
from .reports import imported_results

__all__ = ['ReinforceTuner', 'ReinforceClassArgsValidator', 'validate_class_args']

_logger = logging.getLogger(__name__)


class ReinforceTuner(Tuner):
    """REINFORCE with an EMA baseline over ``choice`` / ``randint`` search spaces.

    Parameters: ``optimize_mode`` (``'maximize'`` for accuracy), ``lr`` (Adam; 0.5 was best of 0.01-1.0 on
    NB201 CIFAR-10, tuning seeds 100-119, median queries to the optimum 818 at 0.01, 194 at 0.1, 139 at
    0.5, 169 at 1.0, bench/bench_defaults.py; lower it for noisy rewards such as short real trainings),
    ``baseline_momentum``
    (EMA of the rewards), ``dedup``, ``max_trials`` (``NoMoreTrialError`` after that many parameter sets),
    ``threads`` (torch threads of the tuner process, default 1; None: leave torch's setting), ``seed``.
    """

    def __init__(self, optimize_mode: str = 'maximize', lr: float = 0.5, baseline_momentum: float = 0.9,
                 dedup: bool = True, max_trials: int | None = None, threads: int | None = 1,
                 seed: int | None = None):
        validate_class_args(**init_args(locals()))
        self.optimize_mode, self.lr, self.momentum = optimize_mode, lr, baseline_momentum
        self.dedup, self.max_trials, self.seed, self.threads = dedup, max_trials, seed, threads
        self.rng = np.random.default_rng(seed)
        self.labels: list[str] = []
        self.values: list[list] = []
        self.logits = None  # torch tensor (labels x most choices), -inf where a label has fewer choices
        self.optimizer = None
        self._ema = [0.0, 0.0]  # numerator, denominator of the bias-corrected moving average
        self.rewards: dict[str, float] = {}  # sample key -> signed reward of finished trials
        self._pending: dict[int, str] = {}  # parameter id -> key
        self._blocked: set[str] = set()  # asked (pending) or failed: never proposed again
        self._imported: list[tuple[dict, float | None]] = []
        self._generated = 0

    # ------------------------------------------------------------------ NNI tuner API
    def update_search_space(self, search_space: dict) -> None:
        import torch  # heavy: after the dispatcher connected
        from nni.mutable import Categorical

        from .nar_tuner import mutables_from_search_space

        use_threads(self.threads)
        mutables = mutables_from_search_space(search_space)
        continuous = [name for name, m in mutables.items() if not isinstance(m, Categorical)]
        if continuous:
            raise ValueError(f'ReinforceTuner needs choice/randint parameters; {", ".join(continuous)} '
                             'are continuous (quantize them into a choice)')
        self.labels = list(mutables)
        self.values = [list(m.values) for m in mutables.values()]
        width = max(len(v) for v in self.values)
        logits = torch.zeros(len(self.values), width, dtype=torch.float64)
        for i, vals in enumerate(self.values):
            logits[i, len(vals):] = float('-inf')
        self.logits = logits.requires_grad_()
        self.optimizer = torch.optim.Adam([self.logits], lr=self.lr)
        for params, reward in self._imported:
            self._tell(params, reward)
        self._imported = []

    def generate_parameters(self, parameter_id: int, **kwargs) -> dict:
        if self.logits is None:
            raise RuntimeError('ReinforceTuner: update_search_space must be called before generate_parameters')
        if self.max_trials is not None and self._generated >= self.max_trials:
            raise nni.NoMoreTrialError(f'ReinforceTuner: max_trials={self.max_trials} reached')
        params = self._draw()
        if params is None:
            raise nni.NoMoreTrialError('ReinforceTuner: no unseen sample found (the space looks exhausted)')
        key = self._key(params)
        self._pending[parameter_id] = key
        self._blocked.add(key)
        self._generated += 1
        return params

    def receive_trial_result(self, parameter_id: int, parameters: dict, value: Any, **kwargs) -> None:
        # key on the parameters that came with the result, not the id (NNI issue 5726)
        self._pending.pop(parameter_id, None)
        self._tell(parameters, extract_scalar_reward(value))

    def trial_end(self, parameter_id: int, success: bool, **kwargs) -> None:
        key = self._pending.pop(parameter_id, None)
        if not success and key is not None:
            _logger.info('ReinforceTuner: trial %s failed; its sample is not proposed again', parameter_id)

    def import_data(self, data: list[dict]) -> None:
        """Replay finished trials (``nnictl resume``): ``[{'parameter': ..., 'value': ...}, ...]``."""
        for params, reward in imported_results(data):
            if self.logits is None:
                self._imported.append((params, reward))
            else:
                self._tell(params, reward)

    # ------------------------------------------------------------------ policy
    def probabilities(self) -> list[np.ndarray]:
        """The policy: choice probabilities per label."""
        import torch
        with torch.no_grad():
            probs = torch.softmax(self.logits, dim=1).numpy()
        return [probs[i, :len(v)] for i, v in enumerate(self.values)]

    def _draw(self, attempts: int = 60) -> dict | None:
        """A sample from the policy; with ``dedup``, redrawn at a rising temperature until it is unseen."""
        probs = self.probabilities()
        for attempt in range(attempts):
            if attempt:  # the policy keeps drawing known samples: flatten it a little more each time
                probs = [p ** (1 / 1.25) for p in probs]
            params = self._params([int(self.rng.choice(len(p), p=p / p.sum())) for p in probs])
            key = self._key(params)
            if not self.dedup or (key not in self.rewards and key not in self._blocked):
                return params
        for _ in range(10 * attempts):  # still nothing new: an unseen sample at random
            params = self._params([int(self.rng.integers(len(v))) for v in self.values])
            key = self._key(params)
            if key not in self.rewards and key not in self._blocked:
                return params
        return None

    def _learn(self, idx: list[int], reward: float) -> None:
        import torch
        num, den = self._ema
        self._ema = [self.momentum * num + (1 - self.momentum) * reward, self.momentum * den + (1 - self.momentum)]
        advantage = reward - self._ema[0] / self._ema[1]
        log_prob = torch.log_softmax(self.logits, dim=1)[torch.arange(len(idx)), torch.tensor(idx)].sum()
        self.optimizer.zero_grad()
        (-advantage * log_prob).backward()
        self.optimizer.step()

    def _tell(self, params: dict, reward: float | None) -> None:
        try:
            idx = [vals.index(params[label]) for label, vals in zip(self.labels, self.values)]
        except (KeyError, ValueError):
            _logger.warning('ReinforceTuner: parameters %s do not fit the search space; ignored', params)
            return
        key = self._key(self._params(idx))
        self._blocked.discard(key)
        if reward is None or math.isnan(float(reward)):
            self._blocked.add(key)  # failed: never again
            return
        reward = float(reward) if self.optimize_mode == 'maximize' else -float(reward)
        self.rewards[key] = reward
        self._learn(idx, reward)

    def _params(self, idx: list[int]) -> dict:
        return {label: vals[i] for label, vals, i in zip(self.labels, self.values, idx)}

    def _key(self, params: dict) -> str:
        return json.dumps([params[label] for label in self.labels])


def validate_class_args(**class_args) -> dict:
    """:class:`ReinforceTuner`'s arguments, defaults filled in; :class:`ValueError` for the first bad one."""
    args = ClassArgs(ReinforceTuner, class_args)
    args.check_common()
    args.check_number('lr', 0, low_open=True)
    args.check_number('baseline_momentum', 0, 1, high_open=True)
    args.check_bool('dedup')
    return args


class ReinforceClassArgsValidator(ClassArgsValidator):
    """What ``nnictl`` runs on ``tuner: {name: Reinforce, classArgs: ...}`` (registered by ``nni-rank register``)."""

    def validate_class_args(self, **kwargs) -> None:
        validate_class_args(**kwargs)
