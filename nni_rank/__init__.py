"""nni-rank: ranking-based neural architecture search for Microsoft NNI 3.0."""
import contextlib as _contextlib

# NNI's strategy package imports tianshou, hence gym 0.23 (pinned for NNI's PolicyBasedRL), which prints a
# three-line "unmaintained" banner to stderr on import. Empty the table the banner comes from
# (gym_notices, a tiny module) instead of importing gym here: `import nni_rank` and the tuners must stay
# light, since NNI's dispatcher has to connect within 10 s.
with _contextlib.suppress(Exception):
    import gym_notices.notices as _gym_notices
    _gym_notices.notices.clear()

__version__ = '0.1.0'
