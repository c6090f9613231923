"""``nni-rank``: entry point; each sub-command lives in its own module and registers its parser."""
from __future__ import annotations

import argparse
import sys
import warnings

# NNI 3.0 warns about torch 2.14's new module types at import; harmless, and noise for CLI users.
warnings.filterwarnings('ignore', message='.*is found to be not a nn.Module.*')

from . import compare, make_db, proxies, rank, register, search, supernet  # noqa: E402

COMMANDS = (search, make_db, proxies, supernet, rank, compare, register)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='nni-rank', description='Ranking-based neural architecture search on NNI.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ['search']  # the main job: a small real NAS on the embedded data
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, LookupError, RuntimeError) as err:
        print(f'nni-rank {args.command}: error: {err}', file=sys.stderr)
        return 1


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
