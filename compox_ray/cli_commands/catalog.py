"""Algorithms and checkpoints from a terminal: ``algorithms``, ``deploy``, ``checkpoints``, ``export``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compox_ray.cli_commands.common import EXIT_DONE, client_for, command, exit_code_of, one_line, print_json


@command
def algorithms_command(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        found = client.algorithms(tags=args.tags or (), exclude_tags=args.exclude_tags or (),
                                  algorithm_type=args.type, devices=args.devices or ())
    if args.json:
        print_json(found)
        return EXIT_DONE
    for algorithm in sorted(found, key=lambda a: (a["algorithm_name"].lower(), a["algorithm_version"])):
        version = f"v{algorithm['algorithm_version']}.{algorithm['latest_algorithm_minor_version']}"
        print(f"{algorithm['algorithm_name']:<28} {version:<8} {algorithm['algorithm_type']:<30} "
              f"{','.join(algorithm['supported_devices']):<12} {algorithm['algorithm_id']}")
    return EXIT_DONE


@command
def deploy_command(args: argparse.Namespace) -> int:
    """Each package in turn; one line each; the exit code of the worst failure."""
    from compox_ray.client import CompoxRayError

    worst = EXIT_DONE
    with client_for(args) as client:
        for path in args.paths:
            try:
                deployed = client.deploy(path, name=args.name, major=args.major, removable=args.removable,
                                         exportable=args.exportable)
            except (CompoxRayError, OSError, ValueError) as error:
                print(f"failed   {path}: {one_line(error)}", file=sys.stderr, flush=True)
                worst = max(worst, exit_code_of(error))
                continue
            print(f"deployed {deployed['algorithm_name']} v{deployed['algorithm_major_version']}."
                  f"{deployed['algorithm_minor_version']}  id {deployed['algorithm_id']}  ({path})", flush=True)
    return worst  # 3 (server) outranks 2 (local path)


@command
def checkpoints_command(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        found = client.checkpoints(tags=args.tags or (), exclude_tags=args.exclude_tags or (),
                                   algorithm=args.algorithm, training=args.training)
    if args.json:
        print_json(found)
        return EXIT_DONE
    for checkpoint in found:
        properties = json.dumps(checkpoint.get("properties") or {}, separators=(",", ":"), default=str)
        print(f"{checkpoint['checkpoint_id']}  {checkpoint['created_at']}  training {checkpoint['training_id']}  "
              f"tags {','.join(checkpoint.get('tags') or []) or '-'}  {properties}", flush=True)
    return EXIT_DONE


@command
def export_command(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        saved = client.export(args.name, args.major, Path(args.out), minor=args.minor, checkpoint=args.checkpoint)
    print(f"exported {args.name} v{args.major} to {saved} ({saved.stat().st_size} bytes)", flush=True)
    return EXIT_DONE


def register(commands, connection: argparse.ArgumentParser) -> None:
    algorithms = commands.add_parser("algorithms", parents=[connection], help="list the deployed algorithms",
                                     description="One line each: name, version, type, devices, id.")
    algorithms.add_argument("--tag", dest="tags", action="append", help="only those with this tag (repeatable)")
    algorithms.add_argument("--exclude-tag", dest="exclude_tags", action="append", help="none with this tag")
    algorithms.add_argument("--type", help="only this algorithm_type, e.g. Image2Image")
    algorithms.add_argument("--device", dest="devices", action="append", help="only those supporting a device")
    algorithms.add_argument("--json", action="store_true", help="print the records as JSON")
    algorithms.set_defaults(handler=algorithms_command)

    deploy = commands.add_parser("deploy", parents=[connection],
                                 help="send algorithm packages (folders or .zip files) to a server",
                                 description="Folders are zipped here (caches left out). Exit 0 when all "
                                             "deployed, 3 when the server refused one, 2 for a bad local path.")
    deploy.add_argument("paths", nargs="+", metavar="PATH")
    deploy.add_argument("--name", help="register under this name instead of [project] name")
    deploy.add_argument("--major", help="register under this major version instead of the package's")
    deploy.add_argument("--removable", action=argparse.BooleanOptionalAction, default=None)
    deploy.add_argument("--exportable", action=argparse.BooleanOptionalAction, default=None)
    deploy.set_defaults(handler=deploy_command)

    checkpoints = commands.add_parser("checkpoints", parents=[connection], help="list checkpoints",
                                      description="One line each, oldest first: id, created, training, tags, "
                                                  "properties.")
    checkpoints.add_argument("--tag", dest="tags", action="append", help="only those with this tag (repeatable)")
    checkpoints.add_argument("--exclude-tag", dest="exclude_tags", action="append", help="none with this tag")
    checkpoints.add_argument("--algorithm", help="only those of this algorithm (name or id)")
    checkpoints.add_argument("--training", help="only those of this training id")
    checkpoints.add_argument("--json", action="store_true", help="print the records as JSON")
    checkpoints.set_defaults(handler=checkpoints_command)

    export = commands.add_parser("export", parents=[connection], help="save an algorithm package as a zip",
                                 description="The zip redeploys as it is; with --checkpoint, its trained assets.")
    export.add_argument("name", metavar="NAME")
    export.add_argument("major", metavar="MAJOR")
    export.add_argument("-o", "--out", required=True, metavar="FILE.zip")
    export.add_argument("--minor", help="that minor version (default: the latest)")
    export.add_argument("--checkpoint", help="a checkpoint id whose assets replace the package's")
    export.set_defaults(handler=export_command)
