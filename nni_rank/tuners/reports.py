"""What passes between the project's tuners and their trials besides the choices.

Metrics a tuner hands to its trial through the parameters, for NNI's web UI:

A tuner knows things about the candidate it proposes that the trial cannot compute (NAR's predicted
tier). It adds them to the parameters under keys starting with :data:`REPORT_PREFIX`; the trial takes
them out with :func:`split_reports` before building the network and reports them as extra keys of its
final result, next to ``default``. Tuners only add them when asked (``report_prediction: true``), so
trial code that passes every parameter on (``Net(**params)``) keeps working.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from nni.utils import extract_scalar_reward

__all__ = ['REPORT_PREFIX', 'with_reports', 'split_reports', 'imported_results']

#: parameter keys starting with this are reports for the trial, not choices of the search space
REPORT_PREFIX = '_report_'


def with_reports(params: Mapping[str, Any], **reports: float) -> dict[str, Any]:
    """``params`` plus ``reports`` under prefixed keys (``predicted_tier=0`` -> ``_report_predicted_tier``)."""
    out = dict(params)
    out.update((REPORT_PREFIX + name, value) for name, value in reports.items())
    return out


def split_reports(params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(choices, reports)``: the parameters without the report keys, and the reports by their plain name."""
    choices = {k: v for k, v in params.items() if not str(k).startswith(REPORT_PREFIX)}
    reports = {str(k)[len(REPORT_PREFIX):]: v for k, v in params.items() if str(k).startswith(REPORT_PREFIX)}
    return choices, reports


def imported_results(data: Iterable[Mapping[str, Any]]) -> Iterator[tuple[dict, float | None]]:
    """``(parameters, reward)`` of each record NNI hands ``Tuner.import_data`` on ``nnictl resume``
    (``{'parameter': ..., 'value': ...}``; reward None for a trial without a result; records without
    parameters are skipped)."""
    for record in data:
        params = record.get('parameter')
        if not params:
            continue
        value = record.get('value')
        yield dict(params), (None if value is None else extract_scalar_reward(value))
