"""``nni-rank register`` / ``nni-rank unregister``: the project's tuners as named NNI algorithms.

``register`` writes an NNI algorithm meta file (each tuner with its ``classArgsValidator``) and runs
``nnictl algo register --meta FILE``; afterwards a config says ``tuner: {name: NAR}`` (or ``ZcREA``,
``AlphaNAS``, ``Reinforce``) and ``nnictl algo list`` shows them. NNI keeps them in ``registered_algorithms.yml``
of its config directory (``$NNI_CONFIG_DIR``, else ``sys.prefix/nni`` in a virtual environment, else
``~/.config/nni``).

NNI 3.0's ``nnictl create`` runs registered validators only for legacy (v1) configs; :func:`check_config`
runs them on a v2 config, and the tuners run the same checks when they start.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: builtin name -> (class, one-line description)
ALGORITHMS: dict[str, tuple[str, str]] = {
    'NAR': ('nni_rank.tuners.nar_tuner.NARTuner', 'NAR: tier-statistics sampling ranked by a learned predictor'),
    'ZcREA': ('nni_rank.tuners.zc_rea_tuner.ZcREATuner',
              'zero-cost regularized evolution: synflow warm-up + move proposal (NAS-Bench-201 spaces)'),
    'AlphaNAS': ('nni_rank.tuners.alpha_nas_tuner.AlphaNasTuner',
                 'alpha-NAS: property-guided evolution (NAS-Bench-201 spaces)'),
    'Reinforce': ('nni_rank.tuners.reinforce_tuner.ReinforceTuner',
                  'REINFORCE with an EMA baseline over choice spaces (the NAS-Bench-201 RL baseline)'),
}

#: builtin name -> its ``classArgsValidator`` (the tuner's own argument checks, run by nnictl)
VALIDATORS: dict[str, str] = {
    'NAR': 'nni_rank.tuners.nar_tuner.NARClassArgsValidator',
    'ZcREA': 'nni_rank.tuners.zc_rea_tuner.ZcREAClassArgsValidator',
    'AlphaNAS': 'nni_rank.tuners.alpha_nas_tuner.AlphaNasClassArgsValidator',
    'Reinforce': 'nni_rank.tuners.reinforce_tuner.ReinforceClassArgsValidator',
}


def add_parser(sub) -> None:
    names = ', '.join(ALGORITHMS)
    for command, helptext in (('register', f'register the project\'s tuners with nnictl ({names})'),
                              ('unregister', 'remove the tuners that register added')):
        p = sub.add_parser(command, help=helptext, description=helptext + '. ' + __doc__.split('\n\n')[1],
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument('names', nargs='*', metavar='NAME', help=f'which ones (default: all of {names})')
        p.add_argument('--nnictl', help='nnictl command to use (default: nnictl on PATH, else '
                                        f'{Path(sys.executable).name} -m nni.tools.nnictl.nnictl)')
        if command == 'register':
            p.add_argument('--print-meta', action='store_true', help='only print the meta file, register nothing')
        p.set_defaults(func=run_register if command == 'register' else run_unregister)
    c = sub.add_parser('check', help='check an nnictl config and its tuner arguments before nnictl create',
                       description='Validate CONFIG as nnictl create does and check the classArgs of the project\'s '
                                   'tuners with the tuners\' own checks (NNI 3.0 skips registered validators for '
                                   'v2 configs, so a bad argument would otherwise only show in dispatcher.log).')
    c.add_argument('config', nargs='+', help='nnictl YAML config(s)')
    c.set_defaults(func=run_check)


def run_check(args) -> int:
    for path in args.config:
        check_config(path)
        print(f'{path}: ok')
    return 0


def meta_yaml(names: list[str]) -> str:
    """NNI algorithm meta (``algorithms:`` list) for ``names``."""
    lines = ['# NNI algorithm meta written by nni-rank register', 'algorithms:']
    for name in names:
        class_name, doc = ALGORITHMS[name]
        lines += [f'  # {doc}', f'  - builtinName: {name}', '    algoType: tuner', f'    className: {class_name}',
                  f'    classArgsValidator: {VALIDATORS[name]}']
    return '\n'.join(lines) + '\n'


def check_class_args(name: str, class_args: dict | None) -> None:
    """Run tuner ``name``'s validator on ``class_args`` (nothing for other names); :class:`ValueError` with the
    tuner's message. NNI 3.0's ``nnictl create`` skips registered validators for v2 configs, so call this first."""
    if name in VALIDATORS:
        from importlib import import_module
        module, cls = VALIDATORS[name].rsplit('.', 1)
        getattr(import_module(module), cls)().validate_class_args(**(class_args or {}))


def check_config(path: str | os.PathLike) -> None:
    """Check an nnictl config as NNI does (``ExperimentConfig``) and its tuner's classArgs with the tuner's own
    checks, for a registered name or this project's class name; :class:`ValueError` with the message."""
    import yaml
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'no config file {path}')
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f'{path} is not valid YAML: {str(err).splitlines()[0]}') from None
    from nni.experiment.config import ExperimentConfig, utils
    try:
        ExperimentConfig.load(str(path)).canonical_copy()  # resolves and validates like nnictl create
    except Exception as err:  # noqa: BLE001 - NNI raises assorted types; the message is what matters
        utils.unset_base_path()  # NNI's load leaves its global base path set when the config is refused
        raise ValueError(f'{path}: {str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}') \
            from None
    tuner = raw.get('tuner') or {}
    name = tuner.get('name') or {cls: n for n, (cls, _) in ALGORITHMS.items()}.get(tuner.get('className'))
    try:
        check_class_args(name, tuner.get('classArgs'))
    except ValueError as err:
        raise ValueError(f'{path}: {err}') from None


def nnictl_command(explicit: str | None = None) -> list[str]:
    """The nnictl to run: ``explicit``, else ``nnictl`` on PATH, else this interpreter's ``nni.tools.nnictl``."""
    if explicit:
        return explicit.split()
    exe = shutil.which('nnictl')
    return [exe] if exe else [sys.executable, '-m', 'nni.tools.nnictl.nnictl']


def _nnictl(args: list[str], nnictl: str | None) -> str:
    cmd = nnictl_command(nnictl) + args
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, 'NO_COLOR': '1'})
    except FileNotFoundError as err:
        raise RuntimeError(f'cannot run nnictl ({" ".join(cmd)}): {err}; is NNI installed?') from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(f'{" ".join(cmd)} did not finish in 300 s') from None
    output = (proc.stdout + proc.stderr).strip()
    # nnictl prints "ERROR: ..." and still exits 0 for refused registrations
    if proc.returncode != 0 or 'ERROR' in output or 'Traceback' in output:
        raise RuntimeError(f'{" ".join(cmd)} failed (exit {proc.returncode}):\n{output}')
    return output


def _names(args) -> list[str]:
    unknown = [n for n in args.names if n not in ALGORITHMS]
    if unknown:
        raise ValueError(f'unknown algorithms {", ".join(unknown)}; available: {", ".join(ALGORITHMS)}')
    return list(dict.fromkeys(args.names)) or list(ALGORITHMS)


def registered_names() -> set[str]:
    """Names of the user algorithms in NNI's registry (read the way nnictl reads it)."""
    from nni.tools.package_utils import get_all_algo_meta
    return {m.name for m in get_all_algo_meta() if not m.is_builtin}


def run_register(args) -> int:
    names = _names(args)
    text = meta_yaml(names)
    if args.print_meta:
        print(text, end='')
        return 0
    with tempfile.TemporaryDirectory(prefix='nni-rank-meta-') as tmp:
        meta = Path(tmp) / 'nni_rank_algorithms.yml'
        meta.write_text(text)
        output = _nnictl(['algo', 'register', '--meta', str(meta)], args.nnictl)
    missing = [n for n in names if n not in registered_names()]
    if missing:
        raise RuntimeError(f'nnictl did not register {", ".join(missing)}:\n{output}')
    from nni.runtime.config import get_config_directory
    print(f'registered {", ".join(names)} in {get_config_directory() / "registered_algorithms.yml"}')
    print('use in a config:  tuner: {name: ' + names[0] + ', classArgs: {optimize_mode: maximize, seed: 0}}')
    return 0


def run_unregister(args) -> int:
    names = _names(args)
    present = registered_names()
    for name in names:
        if name not in present:
            print(f'{name} is not registered; nothing to do')
            continue
        _nnictl(['algo', 'unregister', name], args.nnictl)
        print(f'unregistered {name}')
    still = [n for n in names if n in registered_names()]
    if still:
        raise RuntimeError(f'nnictl did not unregister {", ".join(still)}')
    return 0
