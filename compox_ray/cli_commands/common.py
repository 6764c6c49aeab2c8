"""What every client command shares: --url/--token, ``-p key=value`` parameters, and one error
line with an exit code scripts can rely on."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from collections.abc import Callable

EXIT_DONE = 0
EXIT_RUN_FAILED = 1  # the run ended FAILED or STOPPED (or, for debug, the package raised)
EXIT_USAGE = 2  # bad arguments or local files (argparse uses 2 too)
EXIT_SERVER_ERROR = 3  # the server answered an error, or no server answered

DEFAULT_URL = "http://127.0.0.1:5481"


class UsageError(Exception):
    """A command line that cannot be carried out as written (exit 2)."""


def connection_parent() -> argparse.ArgumentParser:
    """--url and --token, for every command that talks to a server."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("server")
    group.add_argument("--url", default=os.environ.get("COMPOX_RAY_URL") or DEFAULT_URL,
                       help="the server (default: $COMPOX_RAY_URL or %(default)s)")
    group.add_argument("--token", default=os.environ.get("COMPOX_RAY_TOKEN"),
                       help="bearer token, if the server asks for one (default: $COMPOX_RAY_TOKEN)")
    return parent


def client_for(args: argparse.Namespace, **options):
    from compox_ray.client import Client

    # The empty token: no Authorization header, even where $COMPOX_RAY_TOKEN is set.
    return Client(args.url, token=args.token or "", **options)


def parse_parameters(pairs: list[str] | None) -> dict:
    """``key=value`` pairs; a value that reads as JSON (1.5, true, [1, 2], "x") is that, else the text."""
    parameters = {}
    for pair in pairs or ():
        name, separator, text = pair.partition("=")
        if not separator or not name.strip():
            raise UsageError(f"parameter {pair!r} is not key=value")
        try:
            parameters[name.strip()] = json.loads(text)
        except ValueError:
            parameters[name.strip()] = text
    return parameters


def add_parameter_option(parser: argparse.ArgumentParser, what: str = "parameter") -> None:
    parser.add_argument("-p", "--param", dest="params", action="append", metavar="KEY=VALUE",
                        help=f"a {what} (repeatable); values are read as JSON where they can be (1.5, true, [1,2])")


def one_line(error: BaseException) -> str:
    text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
    return text if len(text) <= 1000 else text[:997] + "..."


def fail(message: str) -> None:
    print(f"compox-ray: error: {message}", file=sys.stderr, flush=True)


def exit_code_of(error: BaseException) -> int:
    from compox_ray.client import CompoxRayError, RunFailed, RunStopped

    if isinstance(error, (RunFailed, RunStopped)):
        return EXIT_RUN_FAILED
    if isinstance(error, CompoxRayError):
        return EXIT_SERVER_ERROR
    return EXIT_USAGE


def command(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The handler's exit code; a client error, a run that failed or a bad local file: one line on
    stderr and its exit code; Ctrl-C: 130 (after the run it waited for was asked to stop)."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        from compox_ray.client import CompoxRayError

        for name in ("httpx", "httpcore"):  # a line per request is noise at a terminal
            logging.getLogger(name).setLevel(logging.WARNING)
        try:
            return handler(args)
        except KeyboardInterrupt:
            fail("interrupted")
            return 130
        except (CompoxRayError, UsageError, OSError, ValueError) as error:
            fail(one_line(error))
            return exit_code_of(error)

    return run


def print_json(value) -> None:
    print(json.dumps(value, indent=2, default=str), flush=True)
