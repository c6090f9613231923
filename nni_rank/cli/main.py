"""``nni-rank``: entry point; each sub-command lives in its own module and registers its parser."""
from __future__ import annotations

import argparse
import sys
import warnings

# NNI 3.0 warns about torch 2.14's new module types at import; harmless, and noise for CLI users.
warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')

from . import compare, demo, make_db, proxies, rank, register, report, search, supernet  # noqa: E402
from .common import positive_int  # noqa: E402

COMMANDS = (demo, search, compare, proxies, rank, supernet, report, make_db, register)


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (the full usage is one ``-h`` away)."""

    def error(self, message: str):
        self.exit(2, f'{self.prog}: error: {message} (see {self.prog} -h)\n')


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog='nni-rank', description='Ranking-based neural architecture search on NNI. '
                                     'Without a command: nni-rank demo.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for module in COMMANDS:
        module.add_parser(sub)
    for command in sub.choices.values():  # options every command takes
        g = command.add_argument_group('run settings')
        g.add_argument('--threads', type=positive_int, default=None,
                       help='torch threads in this process (default: $NNI_RANK_THREADS or 1, so that '
                            'processes sharing the cores do not oversubscribe them)')
        g.add_argument('--quiet', action='store_true', help='no progress bars')
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ['demo']  # the main job: the project's ranking-based search beside NNI's
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    from ..runtime import set_quiet, set_threads
    try:
        set_threads(args.threads)
        set_quiet(args.quiet)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        kept = getattr(args, 'on_interrupt', None)
        print(f'\nnni-rank {args.command}: interrupted' + (f'; {kept}' if kept else ''), file=sys.stderr)
        return 130
    except (OSError, ValueError, LookupError, RuntimeError) as err:
        print(f'nni-rank {args.command}: error: {_one_line(err)}', file=sys.stderr)
        return 1


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    if isinstance(err, OSError) and err.filename and str(err.filename) not in text:
        text = f'{text}: {err.filename}'
    return text.splitlines()[0] if text else type(err).__name__


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
