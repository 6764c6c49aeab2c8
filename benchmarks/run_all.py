"""``make bench``: the same client workload against Compox 3.2.0 and compox_ray, one table of ratios.

    python -m benchmarks.run_all [--quick] [--only files,training] [--stores local,S3] [--sizes 64,1024]
                                 [--proxy-ingress] [--serve-env RAY_SERVE_...=1] [--profile] [--no-write]

Builds the peer once (``benchmarks/.peer/``), starts one moto S3 server on 127.0.0.1, then for each
store runs Compox and compox_ray in turn (each started for its turn and stopped after it) and
prints figure | store | Compox | compox_ray | ratio | goal. ``--proxy-ingress`` adds a pass of
compox_ray behind Serve's HTTP proxy, set against the same Compox figures. The table, the
machine and notes on where the time went (CPU per process role; with ``--profile``, py-spy's
busiest compox_ray functions) go to ``benchmarks/results/<date>.md`` (``<date>-quick.md`` with
--quick). Every process started here is stopped at the end, also on errors, SIGTERM and Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import ray  # noqa: E402

from benchmarks import bare_server, bench_packages, peer  # noqa: E402
from benchmarks.client import NotAvailable  # noqa: E402
from benchmarks.datasets import volume_file  # noqa: E402
from benchmarks.figures import Context, Target, Workload, all_workloads  # noqa: E402
from benchmarks.figures.executions import realistic_without_a_server  # noqa: E402
from benchmarks.processes import ProcessTreeCpu, PySpyProfiles, machine_description  # noqa: E402
from benchmarks.report import Results, document, table  # noqa: E402
from benchmarks.targets import PAIRS, running  # noqa: E402
from tests.servers import S3Server  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="64 MiB files only, fewer repetitions, a 128^3 denoiser job, 1 and 4 trainings")
    parser.add_argument("--sizes", help="comma-separated file sizes in MiB (default 64, or 64,1024 without --quick)")
    parser.add_argument("--only", help="comma-separated workloads: " + ", ".join(w.name for w in all_workloads()))
    parser.add_argument("--stores", default="local,S3", help="comma-separated: local, S3")
    parser.add_argument("--serve-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for the compox_ray server (opt-in Serve modes)")
    parser.add_argument("--proxy-ingress", action="store_true",
                        help="also run compox_ray behind Serve's HTTP proxy (the default is direct ingress)")
    parser.add_argument("--also-tree", metavar="DIR",
                        help="also run compox_ray from another checkout (e.g. before a change), same Compox figures")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy on compox_ray's Ray workers during each workload; the notes name the busiest code")
    parser.add_argument("--max-minutes", type=float, help="skip the remaining workloads after this long")
    parser.add_argument("--out", help="the results file (default benchmarks/results/<date>[-quick].md)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    return parser.parse_args(argv)


def context_for(args: argparse.Namespace, work_dir: Path) -> Context:
    return Context(quick=args.quick, work_dir=work_dir, packages=bench_packages.prepare(),
                   sizes_mib=[int(size) for size in args.sizes.split(",")] if args.sizes
                   else [64] if args.quick else [64, 1024],
                   repetitions=2 if args.quick else 3,
                   training_counts=[1, 4] if args.quick else [1, 2, 4, 8])


def run_workload(workload: Workload, target: Target, context: Context, results: Results, deadline: float,
                 profile: bool = False) -> None:
    figures = workload.figures(context)
    label = f"{target.server} ({target.store})"
    if time.monotonic() > deadline:
        values: dict[str, object] = {f.name: "n/a (time budget spent)" for f in figures}
    else:
        print(f"  {label}: {workload.name} ...", flush=True)
        start = time.perf_counter()
        try:
            client_cpu_s = time.process_time()  # this process only (the servers are its children)
            profiles = PySpyProfiles(target.root_pid, context.work_dir / "profiles" / workload.name.replace(" ", "_")) \
                if profile and target.server == "compox_ray" else contextlib.nullcontext()
            with ProcessTreeCpu(target.root_pid) as cpu, profiles:
                values = workload.run(target, context)
            if isinstance(profiles, PySpyProfiles):
                target.notes.append(f"{workload.name}, py-spy: {profiles.summary()}")
            target.notes.append(f"{workload.name}: {time.perf_counter() - start:.1f} s wall; server CPU "
                                f"{sum(cpu.seconds.values()):.1f} s ({cpu.summary(4)}); client CPU "
                                f"{time.process_time() - client_cpu_s:.1f} s")
        except NotAvailable as missing:
            values = {f.name: f"n/a ({missing})" for f in figures}
        except Exception as error:  # one failing figure must not stop the others
            traceback.print_exc()
            values = {f.name: f"n/a (error: {str(error)[:120]})" for f in figures}
        print(f"  {label}: {workload.name} done in {time.perf_counter() - start:.1f} s", flush=True)
    for figure in figures:
        results.add(figure, target.store, target.server, values.get(figure.name, "n/a"))
    results.notes += [f"{label}: {note}" for note in target.notes]
    target.notes.clear()


def file_transfers_without_a_server(context: Context, log_dir: Path) -> str:
    """The client's own cost, once, with the largest file (which the files workload reuses)."""
    size = max(context.sizes_mib)
    path = context.work_dir / f"volume-{size}MiB.h5"
    volume_file(path, size)
    return bare_server.measure(path, context.repetitions, log_dir)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    deadline = started + 60 * (args.max_minutes or (20 if args.quick else 90))
    workloads = all_workloads()
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        workloads = [w for w in workloads if w.name in wanted or w.name.split()[0] in wanted]
    stores = [store.strip() for store in args.stores.split(",")]
    extra_env = dict(item.split("=", 1) for item in args.serve_env)
    machine = machine_description()
    peer.ensure_peer()
    results = Results()

    def stop_on_sigterm(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop_on_sigterm)

    with contextlib.ExitStack() as cleanup:
        work_dir = Path(tempfile.mkdtemp(prefix="compox-bench-"))
        cleanup.callback(shutil.rmtree, work_dir, ignore_errors=True)
        log_dir = work_dir / "logs"
        log_dir.mkdir()
        context = context_for(args, work_dir)
        s3 = S3Server()
        cleanup.callback(s3.stop)
        if any(workload.name == "files" for workload in workloads):
            results.notes.append(file_transfers_without_a_server(context, log_dir))
        if any(workload.name == "realistic job" for workload in workloads):
            results.notes.append(realistic_without_a_server(context, log_dir))
        for store in stores:
            if store not in dict(PAIRS):
                raise SystemExit(f"unknown store {store!r}: choose from {', '.join(dict(PAIRS))}")
            # (server, label in the table, launcher arguments, environment); extra compox_ray passes are
            # set against the same Compox figures
            passes = [("Compox", store, [], {}), ("compox_ray", store, [], extra_env)]
            if args.also_tree:
                tree = str(Path(args.also_tree).resolve())
                passes.append(("compox_ray", f"{store}, {Path(tree).name}", ["--tag", "tree"],
                               extra_env | {"PYTHONPATH": tree}))
            if args.proxy_ingress:
                passes.append(("compox_ray", f"{store}, Serve proxy", ["--ingress", "proxy"], extra_env))
            for server_kind, label, extra_args, env in passes:
                print(f"benchmarks: starting {server_kind} ({label})", flush=True)
                try:
                    with running(server_kind, store, label, work_dir, s3, log_dir, env, extra_args) as target:
                        for workload in workloads:
                            run_workload(workload, target, context, results, deadline, args.profile)
                except (RuntimeError, TimeoutError) as error:  # the server did not start
                    traceback.print_exc()
                    for workload in workloads:
                        for figure in workload.figures(context):
                            results.add(figure, label, server_kind, f"n/a (server did not start: {str(error)[:80]})")
                if label != store:
                    results.copy_column(store, label, "Compox")

    run = {"date": datetime.date.today().isoformat(), "quick": args.quick, "duration_s": time.monotonic() - started,
           "command": "python -m benchmarks.run_all " + " ".join(argv if argv is not None else sys.argv[1:]),
           "ray_version": ray.__version__}
    print()
    print(table(results))
    for note in results.notes:
        print(f"- {note}")
    if not args.no_write:
        path = Path(args.out) if args.out else RESULTS_DIR / f"{run['date']}{'-quick' if args.quick else ''}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document(results, machine, run))
        print(f"\nbenchmarks: written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
