"""Runs from a terminal: ``run``, ``status``, ``stop``, ``sample``, ``train``."""

from __future__ import annotations

import argparse
from pathlib import Path

from compox_ray.cli_commands.common import (EXIT_DONE, EXIT_RUN_FAILED, UsageError, add_parameter_option, client_for,
                                            command, parse_parameters, print_json)

TERMINAL_FAILURES = ("FAILED", "STOPPED")


def _input(text: str) -> str | Path:
    """A local HDF5 item file, or the id of a file already on the server."""
    from compox_ray.client.operations import is_record_id

    if is_record_id(text):
        return text
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"input {text} is neither a file nor a file id")
    return path


def save_outputs(client, file_ids: list[str], out_dir: Path) -> list[Path]:
    """Each output file as it is on the server: OUTDIR/output_0000.h5, ... in order."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [client.download_to(file_id, out_dir / f"output_{index:04d}.h5") for index, file_id in enumerate(file_ids)]


@command
def run_command(args: argparse.Namespace) -> int:
    with client_for(args, progress=not args.quiet) as client:
        inputs = [_input(text) for text in args.inputs]
        outcome = client.run(args.algorithm, inputs, parse_parameters(args.params), device=args.device,
                             session=args.session, checkpoint=args.checkpoint, wait=not args.no_wait,
                             minor=args.minor, download=False)
        if args.no_wait:
            print(outcome, flush=True)
            return EXIT_DONE
        record = outcome.record
        saved = save_outputs(client, outcome.file_ids, Path(args.out)) if args.out else []
    if args.json:
        print_json(record)
    else:
        where = f" -> {args.out}" if saved else ""
        print(f"execution {record['execution_id']} COMPLETED: {len(outcome.file_ids)} output(s){where}", flush=True)
        if not saved:
            for file_id in outcome.file_ids:
                print(file_id)
    return EXIT_DONE


@command
def status_command(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        record = client.status(args.run_id)
    kind = "execution" if "execution_id" in record else "training"
    if args.json:
        print_json(record)
    else:
        outputs = record.get("output_dataset_ids") if kind == "execution" else record.get("output_checkpoint_ids")
        print(f"{kind} {args.run_id} {record['status']} {100 * record['progress']:.0f}%"
              f"  outputs {len(outputs or [])}", flush=True)
        if args.log or record["status"] in TERMINAL_FAILURES:
            print((record.get("log") or "").rstrip(), flush=True)
    return EXIT_RUN_FAILED if record["status"] in TERMINAL_FAILURES else EXIT_DONE


@command
def stop_command(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        print(client.stop(args.run_id), flush=True)
    return EXIT_DONE


def _sample_files(pairs: list[str]) -> dict[str, list]:
    files: dict[str, list] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise UsageError(f"--file {pair!r} is not KEY=PATH")
        files.setdefault(key, []).append(_input(text))
    return files


@command
def sample_command(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        print(client.create_sample(_sample_files(args.files), tags=args.tags or ()), flush=True)
    return EXIT_DONE


@command
def train_command(args: argparse.Namespace) -> int:
    with client_for(args, progress=not args.quiet) as client:
        outcome = client.train(args.algorithm, args.samples, parse_parameters(args.params), tags=args.tags or (),
                               checkpoint=args.checkpoint, wait=not args.no_wait, minor=args.minor)
    if args.no_wait:
        print(outcome, flush=True)
    elif args.json:
        print_json(outcome)
    else:
        print(f"training {outcome['training_id']} COMPLETED: checkpoint(s) "
              f"{' '.join(outcome['output_checkpoint_ids'])}", flush=True)
    return EXIT_DONE


def _waiting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minor", help="the algorithm's minor version (default: the latest)")
    parser.add_argument("--checkpoint", help="a checkpoint id whose trained assets to use")
    parser.add_argument("--no-wait", action="store_true", help="print the id and return at once")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the final record as JSON")


def register(commands, connection: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run", parents=[connection], help="execute an algorithm on HDF5 item files, with a progress bar",
        description="Upload the inputs, execute, wait (Ctrl-C stops the run) and save the outputs. "
                    "Exit 0 when it completed, 1 when it failed or was stopped, 3 on a server error.")
    run.add_argument("algorithm", metavar="ALGO", help="algorithm name (highest major) or id")
    run.add_argument("inputs", nargs="+", metavar="INPUT.h5", help="item files (one 2-D slice each for image "
                                                                 "algorithms) or ids of files on the server")
    add_parameter_option(run)
    run.add_argument("-o", "--out", metavar="OUTDIR", help="save the outputs here (output_0000.h5, ...)")
    run.add_argument("--device", help="execution device override: cpu, gpu, cuda:N, mps")
    run.add_argument("--session", help="a session token to reuse the session cache of")
    _waiting_options(run)
    run.set_defaults(handler=run_command)

    status = commands.add_parser("status", parents=[connection], help="show an execution or training",
                                 description="Exit 0 unless it ended FAILED or STOPPED (1).")
    status.add_argument("run_id", metavar="ID")
    status.add_argument("--log", action="store_true", help="print its log too")
    status.add_argument("--json", action="store_true", help="print the record as JSON")
    status.set_defaults(handler=status_command)

    stop = commands.add_parser("stop", parents=[connection], help="stop an execution or training")
    stop.add_argument("run_id", metavar="ID")
    stop.set_defaults(handler=stop_command)

    sample = commands.add_parser("sample", parents=[connection], help="create a training sample from files",
                                 description="Upload the files and create one sample; prints its id.")
    sample.add_argument("-f", "--file", dest="files", action="append", required=True, metavar="KEY=PATH",
                        help="a file under KEY (repeat per file, e.g. -f input=noisy.h5 -f target=clean.h5)")
    sample.add_argument("--tag", dest="tags", action="append", help="a tag (repeatable)")
    sample.set_defaults(handler=sample_command)

    train = commands.add_parser("train", parents=[connection], help="train an algorithm on samples",
                                description="Exit 0 when it completed, 1 when it failed or was stopped.")
    train.add_argument("algorithm", metavar="ALGO", help="algorithm name (highest major) or id")
    train.add_argument("samples", nargs="+", metavar="SAMPLE_ID")
    add_parameter_option(train, "training parameter")
    train.add_argument("--tag", dest="tags", action="append", help="a tag for the training and its checkpoints")
    _waiting_options(train)
    train.set_defaults(handler=train_command)
