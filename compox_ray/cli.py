"""The command line: ``compox-ray serve`` (what ``make run`` calls)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from compox_ray.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    from compox_ray import server

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("data_dir", args.data_dir)) if v}
    settings = Settings(**overrides)
    server.start_ray(settings)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # after ray.init, which installs its own
        signal.signal(signum, lambda *_: stopping.set())
    try:
        server.start_serve(settings)
        print(f"compox_ray is serving on http://{settings.host}:{settings.port} "
              f"(data in {settings.data_dir}); Ctrl-C stops it.", flush=True)
        stopping.wait()
    finally:
        print("compox_ray: stopping", flush=True)
        server.stop(settings)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="compox-ray", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="start the server in the foreground (Ctrl-C stops it)")
    serve_cmd.add_argument("--host")
    serve_cmd.add_argument("--port", type=int)
    serve_cmd.add_argument("--data-dir")
    serve_cmd.set_defaults(handler=_serve)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
