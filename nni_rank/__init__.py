"""nni-rank: ranking-based neural architecture search for Microsoft NNI 3.0."""
import contextlib as _contextlib
import importlib.util as _importlib_util
import io as _io

# NNI's strategy package imports tianshou, hence gym, which prints a three-line "unmaintained" banner
# on every import. gym 0.23 is pinned only for NNI's PolicyBasedRL; import it once here with the banner
# swallowed so that CLI output stays readable.
if _importlib_util.find_spec('gym') is not None:
    with _contextlib.redirect_stderr(_io.StringIO()):
        try:
            import gym  # noqa: F401
        except Exception:  # a broken gym only matters to PolicyBasedRL, which reports it itself
            pass

__version__ = '0.1.0'
