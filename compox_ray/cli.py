"""The command line: ``compox-ray serve`` (what ``make run`` calls) and the client commands that
mirror the REST API (compox_ray/cli_commands/): deploy, algorithms, run, status, stop, sample,
train, checkpoints, export, and debug (a package run locally). ``compox-ray COMMAND --help`` says
more. Exit codes: 0 done, 1 a run failed or was stopped, 2 usage, 3 an error from the server."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
import traceback

from compox_ray.cli_commands import register_commands
from compox_ray.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    from compox_ray.ray_environment import use_ray_environment

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("data_dir", args.data_dir)) if v}
    settings = Settings(**overrides)
    try:
        use_ray_environment(settings)  # before Ray is imported: some of it is read at import
        from compox_ray import server

        server.require_safe_start(settings)
    except RuntimeError as error:
        print(f"compox-ray: {error}", file=sys.stderr, flush=True)
        return 1
    server.start_ray(settings)
    stop = _StopSignal()
    for signum in _STOP_SIGNALS:  # after ray.init, which installs its own
        signal.signal(signum, stop.raise_in_main_thread)
    status = 0
    try:
        server.start_serve(settings)
        print(f"compox_ray is serving on http://{settings.host}:{settings.port} "
              f"(data in {settings.data_dir}); Ctrl-C stops it.", flush=True)
        while True:
            signal.pause()
    except BaseException:
        # Also while still starting: a stop must not wait for a start that cannot finish. (Raised
        # inside a call into Ray, the signal's exception reaches here as another one.)
        if not stop.received:
            traceback.print_exc()
            status = 1
    for signum in _STOP_SIGNALS:  # a second Ctrl-C does not cut the stop short
        signal.signal(signum, signal.SIG_IGN)
    print("compox_ray: stopping", flush=True)
    started = time.monotonic()
    server.stop(settings)
    print(f"compox_ray: stopped in {time.monotonic() - started:.1f} s", flush=True)
    sys.stderr.flush()
    if not settings.ray_address:
        os._exit(status)  # see server.stop
    return status


# What a terminal's Ctrl-C, systemd and `docker stop` send (to the whole process group).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _StopSignal:
    received: str | None = None

    def raise_in_main_thread(self, signum, frame):
        self.received = signal.Signals(signum).name
        raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="compox-ray", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="start the server in the foreground (Ctrl-C stops it)")
    serve_cmd.add_argument("--host")
    serve_cmd.add_argument("--port", type=int)
    serve_cmd.add_argument("--data-dir")
    serve_cmd.set_defaults(handler=_serve)
    register_commands(commands)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
