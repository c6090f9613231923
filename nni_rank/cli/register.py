"""``nni-rank register`` / ``nni-rank unregister``: the project's tuners as named NNI algorithms.

``register`` writes an NNI algorithm meta file and runs ``nnictl algo register --meta FILE``; afterwards a
config says ``tuner: {name: NAR}`` (or ``ZcREA``, ``AlphaNAS``, ``Reinforce``) and ``nnictl algo list`` shows them.
NNI keeps them in ``registered_algorithms.yml`` of its config directory (``$NNI_CONFIG_DIR``, else
``sys.prefix/nni`` in a virtual environment, else ``~/.config/nni``).
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


def meta_yaml(names: list[str]) -> str:
    """NNI algorithm meta (``algorithms:`` list) for ``names``."""
    lines = ['# NNI algorithm meta written by nni-rank register', 'algorithms:']
    for name in names:
        class_name, doc = ALGORITHMS[name]
        lines += [f'  # {doc}', f'  - builtinName: {name}', '    algoType: tuner', f'    className: {class_name}']
    return '\n'.join(lines) + '\n'


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
