"""``compox-ray debug ALGO_DIR INPUT.h5...``: run a package folder here, without a server, as a
runner replica loads it (compox_ray.algorithms.loader + LocalRunContext), with its log and progress
on the terminal: the way to see an algorithm fail before deploying it."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from compox_ray.cli_commands.common import (EXIT_DONE, EXIT_RUN_FAILED, UsageError, add_parameter_option, command,
                                            fail, one_line, parse_parameters, print_json)


@command
def debug_command(args: argparse.Namespace) -> int:
    from compox_ray.algorithms.loader import load_algorithm_from_folder
    from compox_ray.cli_commands.terminal_context import TerminalRunContext
    from compox_ray.errors import CompoxError

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a package folder")
    inputs = [Path(text) for text in args.inputs]
    for path in inputs:
        if not path.is_file():
            raise UsageError(f"input {path} is not a file")
    try:
        algorithm = load_algorithm_from_folder(folder, device=args.device)
    except Exception as error:  # the package's own code: any error is the package's failure
        fail(f"{folder} does not load: {one_line(error)}")
        return EXIT_RUN_FAILED
    try:
        parameters = algorithm.with_defaults(parse_parameters(args.params))
    except CompoxError as error:  # a parameter the package's schema refuses
        algorithm.close()
        raise UsageError(error.detail) from None
    bar = None
    if not args.quiet:
        from tqdm.auto import tqdm

        bar = tqdm(total=100, desc=f"debug {algorithm.algorithm_name}", unit="%",
                   bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}]")
    try:
        with TerminalRunContext(device=args.device, parameters=parameters, progress_bar=bar) as context:
            file_ids = [context.add_file(path.read_bytes()) for path in inputs]
            try:
                output_ids = algorithm.execute(context, file_ids)
            except Exception as error:
                if bar is not None:
                    bar.close()
                traceback.print_exc(file=sys.stderr)
                fail(f"{algorithm.algorithm_name} failed: {one_line(error)}")
                return EXIT_RUN_FAILED
            saved = _save(context, output_ids, Path(args.out)) if args.out else []
    finally:
        if bar is not None:
            bar.close()
        algorithm.close()
    if args.json:
        print_json({"output_files": [str(path) for path in saved], "output_count": len(output_ids)})
    else:
        where = f" -> {args.out}" if saved else " (give -o OUTDIR to keep them)"
        print(f"debug {algorithm.algorithm_name} COMPLETED: {len(output_ids)} output(s){where}", flush=True)
    return EXIT_DONE


def _save(context, output_ids: list[str], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for index, file_id in enumerate(output_ids):
        target = out_dir / f"output_{index:04d}.h5"
        target.write_bytes(context.read_file(file_id))
        saved.append(target)
    return saved


def register(commands, _connection: argparse.ArgumentParser) -> None:
    debug = commands.add_parser(
        "debug", help="run a package folder locally, without a server",
        description="Load ALGO_DIR as a runner replica would, run it on the item files with the log and "
                    "progress on the terminal. Exit 0 when it completed, 1 when it failed, 2 on bad arguments.")
    debug.add_argument("folder", metavar="ALGO_DIR")
    debug.add_argument("inputs", nargs="+", metavar="INPUT.h5")
    add_parameter_option(debug)
    debug.add_argument("-o", "--out", metavar="OUTDIR", help="save the outputs here (output_0000.h5, ...)")
    debug.add_argument("--device", default="cpu", help="the device the runner gets (default %(default)s)")
    debug.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    debug.add_argument("--json", action="store_true", help="print the outcome as JSON")
    debug.set_defaults(handler=debug_command)
