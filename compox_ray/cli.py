"""The command line: ``compox-ray serve`` (what ``make run`` calls), ``compox-ray deploy PATH...``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from compox_ray.settings import Settings


def _serve(args: argparse.Namespace) -> int:
    from compox_ray import server

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port), ("data_dir", args.data_dir)) if v}
    settings = Settings(**overrides)
    try:
        server.require_free_port(settings.host, settings.port)
    except RuntimeError as error:
        print(f"compox-ray: {error}", file=sys.stderr, flush=True)
        return 1
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


def _deploy(args: argparse.Namespace) -> int:
    from compox_ray.deploy_client import DeployFailed, deploy_package

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per package is what the user wants
    overrides = {"algorithm_name": args.name, "algorithm_major_version": args.major, "removable": args.removable,
                 "exportable": args.exportable}
    failures = 0
    for path in args.paths:
        try:
            deployed = deploy_package(path, args.url, token=args.token, overrides=overrides)
        except (DeployFailed, OSError, ValueError) as error:
            print(f"failed   {error}", file=sys.stderr, flush=True)
            failures += 1
            continue
        print(f"deployed {deployed['algorithm_name']} v{deployed['algorithm_major_version']}."
              f"{deployed['algorithm_minor_version']}  id {deployed['algorithm_id']}  ({path})", flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="compox-ray", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="start the server in the foreground (Ctrl-C stops it)")
    serve_cmd.add_argument("--host")
    serve_cmd.add_argument("--port", type=int)
    serve_cmd.add_argument("--data-dir")
    serve_cmd.set_defaults(handler=_serve)
    deploy_cmd = commands.add_parser("deploy", help="send algorithm packages (folders or .zip files) to a server")
    deploy_cmd.add_argument("paths", nargs="+", metavar="PATH")
    deploy_cmd.add_argument("--url", default="http://127.0.0.1:5481", help="the server (default %(default)s)")
    deploy_cmd.add_argument("--token", default=os.environ.get("COMPOX_RAY_ADMIN_TOKEN"),
                            help="admin token, if the server has one (default: $COMPOX_RAY_ADMIN_TOKEN)")
    deploy_cmd.add_argument("--name", help="register under this name instead of [project] name")
    deploy_cmd.add_argument("--major", help="register under this major version instead of the package's")
    deploy_cmd.add_argument("--removable", action=argparse.BooleanOptionalAction, default=None)
    deploy_cmd.add_argument("--exportable", action=argparse.BooleanOptionalAction, default=None)
    deploy_cmd.set_defaults(handler=_deploy)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
