"""What every ``ipinsights`` command shares: the help convention, the log-format options, and a
command line written back from parsed options."""

from __future__ import annotations

import argparse
from collections.abc import Collection


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The one help convention of every command: an option's help ends with its default, once.

    ``(default: X)`` is added to the help of an option that takes a value and has a default worth
    stating; nothing is added for a required option, a flag (off unless given), a default of
    ``None`` or an empty list (the help says what happens without the option), or a help that
    states its default in its own words, ``(default: ...)``, as one that depends on the
    environment or on another option must. Descriptions and epilogs keep their line breaks.

    Example:
        >>> parser = argparse.ArgumentParser(prog="x", formatter_class=HelpFormatter)
        >>> _ = parser.add_argument("--seed", type=int, default=0, help="the seed")
        >>> _ = parser.add_argument("--out", required=True, help="where")
        >>> _ = parser.add_argument("--fast", action="store_true", help="a tiny run")
        >>> print(parser.format_help().split("options:")[1].strip())  # doctest: +NORMALIZE_WHITESPACE
        -h, --help   show this help message and exit
        --seed SEED  the seed (default: 0)
        --out OUT    where
        --fast       a tiny run
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help
        if text and "(default" not in text and _states_default(action):
            text += " (default: %(default)s)"
        return text


def _states_default(action: argparse.Action) -> bool:
    return (
        bool(action.option_strings)
        and not action.required
        and action.nargs != 0  # flags, --help, --version
        and action.default not in (None, argparse.SUPPRESS, [])
    )


def add_format_arguments(p: argparse.ArgumentParser, applies_to: str = "") -> None:
    """``--format`` and its field names, shared by train, predict and evaluate (``applies_to``: its inputs in the help)."""
    from ipinsights.readers import FORMAT_HELP, FORMATS

    p.add_argument(
        "--format",
        default="csv",
        choices=FORMATS,
        help=f"{FORMAT_HELP}; applies to {applies_to}" if applies_to else FORMAT_HELP,
    )
    p.add_argument(
        "--entity-field",
        default=None,
        metavar="NAME",
        help="the entity's field for jsonl, csv-header and parquet; dotted for nested JSON (default: entity)",
    )
    p.add_argument(
        "--ip-field",
        default=None,
        metavar="NAME",
        help="the IP's field for jsonl, csv-header and parquet; for combined, x-forwarded-for takes the first "
        "address of the quoted field after the user agent (default: ip)",
    )


def command_line(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, leave_out: Collection[str] = ()
) -> list[str]:
    """The options that ``parser`` parses back into ``args`` (the destinations in ``leave_out`` left out).

    Written from the parser's own actions, so that an option added to a command travels with
    it: ``train --nproc`` gives its workers their command line this way. Each value is written
    as ``--option=value``, so that one starting with ``-`` stays a value; options whose value is
    ``None`` are left out, flags appear when set.

    Raises:
        TypeError: The parser has an action this cannot write back (a positional, a counter, ...).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> _ = parser.add_argument("--hp", action="append", default=[])
        >>> _ = parser.add_argument("--seed", type=int, default=0)
        >>> _ = parser.add_argument("--fast", action="store_true")
        >>> command_line(parser, parser.parse_args(["--hp", "a=1", "--hp", "b=-2", "--fast"]))
        ['--hp=a=1', '--hp=b=-2', '--seed=0', '--fast']
    """
    argv: list[str] = []
    for action in parser._actions:
        if action.dest in leave_out or isinstance(action, argparse._HelpAction):
            continue
        value = getattr(args, action.dest)
        option = max(action.option_strings, key=len, default=action.dest)
        if isinstance(action, argparse._StoreTrueAction) and action.option_strings:
            argv += [option] if value else []
        elif isinstance(action, argparse._AppendAction) and action.nargs is None:
            argv += [f"{option}={item}" for item in value or ()]
        elif type(action) is argparse._StoreAction and action.nargs is None and action.option_strings:
            argv += [] if value is None else [f"{option}={value}"]
        else:
            raise TypeError(f"cannot write {option} ({type(action).__name__}) back into a command line")
    return argv
