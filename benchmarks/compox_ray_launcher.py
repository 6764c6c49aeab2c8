"""compox_ray for a benchmark run: its own local Ray instance, Serve on 127.0.0.1, one logical GPU.

Run as ``python -m benchmarks.compox_ray_launcher --port P --data-dir D [--blob-uri ...]``; settings
not given on the command line come from ``COMPOX_RAY_*`` as usual. SIGTERM or SIGINT stops Serve
and the Ray instance. The logical GPU lets fractional-GPU trainings schedule on a CPU-only machine.

``--ingress proxy`` puts Serve's HTTP proxy in front of the Api replica instead of the default
direct ingress (the Api replica itself listening on 127.0.0.1:P).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--blob-uri")
    # Logical CPUs: enough for four 1-CPU trainings beside the Api and runner replicas (the
    # scheduling figure); the machine's cores are what they are.
    parser.add_argument("--ray-cpus", type=int, default=8, help="logical CPUs Ray may schedule")
    parser.add_argument("--object-store-mib", type=int, default=512)
    parser.add_argument("--ingress", choices=("direct", "proxy"), help="default: the server's (direct)")
    parser.add_argument("--tag", help="ignored: names the pass in process listings and logs")
    args = parser.parse_args(argv)

    from compox_ray import server
    from compox_ray.settings import Settings

    overrides = {"host": "127.0.0.1", "port": args.port, "data_dir": args.data_dir, "instance": "bench"}
    if args.blob_uri:
        overrides["blob_uri"] = args.blob_uri
    if args.ingress:
        overrides["ingress"] = args.ingress
    settings = Settings(**overrides)
    server.start_ray(settings, num_cpus=args.ray_cpus, num_gpus=1,
                     object_store_memory=args.object_store_mib * 2**20)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        server.start_serve(settings)
        print(f"compox_ray ready on http://127.0.0.1:{args.port} ({settings.ingress} ingress)", flush=True)
        stopping.wait()
    finally:
        server.stop(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
