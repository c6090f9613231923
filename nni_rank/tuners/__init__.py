"""NNI HPO tuners for the ``nnictl`` path.

Imported lazily: NNI's dispatcher must connect to the manager within 10 s of starting, so importing a
tuner class must not pull in torch and every NAS strategy first.
"""
from importlib import import_module

_EXPORTS = {
    'NARTuner': 'nar_tuner',
    'mutables_from_search_space': 'nar_tuner',
    'AlphaNasTuner': 'alpha_nas_tuner',
    'ZcREATuner': 'zc_rea_tuner',
    'ReinforceTuner': 'reinforce_tuner',
    'REPORT_PREFIX': 'reports',
    'with_reports': 'reports',
    'split_reports': 'reports',
}

__all__ = ['NARTuner', 'mutables_from_search_space', 'AlphaNasTuner', 'ZcREATuner', 'ReinforceTuner',
           'REPORT_PREFIX', 'with_reports', 'split_reports']


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f'.{_EXPORTS[name]}', __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
