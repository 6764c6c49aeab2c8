"""Compox 3.2.0, the peer of the benchmarks, served by uvicorn on 127.0.0.1.

Runs with the peer's own interpreter (``benchmarks/.peer/bin/python``), never imports compox_ray.
``compox run`` would bind all interfaces and start a MinIO of its own, so this script builds
Compox's FastAPI application from its settings object and serves it itself:

    python compox_launcher.py --port P --workdir D --s3-endpoint URL [--store s3|memory]

``--store s3`` keeps every collection in the S3 server at ``--s3-endpoint`` (Compox's only
production storage); ``--store memory`` swaps in Compox's own in-memory connection after the
application is built, the cheapest storage Compox can have. Compox 3.2.0's routers read object
listings in S3's shape (``[{"Key": ...}]``) while its in-memory connection lists bare names, so the
swapped-in connection answers listings in S3's shape; nothing else changes. Executions and
trainings run in Compox's FastAPI background-task executor (one worker thread, its default).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ["COMPOX_DISABLE_CLI"] = "1"  # before compox's settings module is imported
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def compox_settings(args: argparse.Namespace):
    from compox.config.server_settings import Settings

    return Settings(
        port=args.port,
        deploy_algorithms_from=os.path.join(args.workdir, "no-bundled-algorithms"),
        log_path=os.path.join(args.workdir, "log", "compox.log"),
        storage={
            "collection_prefix": args.collection_prefix,
            "access_key_id": args.access_key,
            "secret_access_key": args.secret_key,
            # No region: S3 servers on loopback refuse a bucket's LocationConstraint.
            "backend_settings": {"provider": "minio", "start_instance": False, "s3_endpoint_url": args.s3_endpoint,
                                 "storage_path": os.path.join(args.workdir, "store")},
        },
        inference={"device": "cpu", "backend_settings": {"executor": "fastapi_background_tasks"}},
    )


def s3_shaped_memory_connection():
    from compox.database_connection.InMemoryConnection import InMemoryConnection

    class S3ShapedMemoryConnection(InMemoryConnection):
        s3_client = None  # the lifespan closes an S3 client where the connection has one

        def list_objects(self, collection_name: str) -> list[dict]:
            objects = self.store.get(collection_name, {})
            return [{"Key": name, "Size": len(value)} for name, value in objects.items()]

    return S3ShapedMemoryConnection()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--store", choices=["s3", "memory"], default="s3")
    parser.add_argument("--collection-prefix", default="")
    parser.add_argument("--access-key", default="testing")
    parser.add_argument("--secret-key", default="testing")
    args = parser.parse_args(argv)
    os.makedirs(os.path.join(args.workdir, "store"), exist_ok=True)
    os.chdir(args.workdir)  # Compox writes caches and logs relative to its working directory

    import uvicorn
    from compox.components.api_builder import build_api

    settings = compox_settings(args)
    app = build_api(settings, with_lifespan=True)
    if args.store == "memory":
        app.state.database_connection = s3_shaped_memory_connection()
    # The same server options as Compox's own server builder, bound to loopback.
    config = uvicorn.Config(app=app, host="127.0.0.1", port=args.port, reload=False, ws="none",
                            log_level="info")
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
