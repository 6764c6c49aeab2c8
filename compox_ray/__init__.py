"""compox_ray: a Compox-compatible algorithm execution and training server on Ray."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("compox_ray")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

_CLIENT_NAMES = ("AsyncClient", "Client", "CompoxRayError", "RunFailed", "RunStopped")


def __getattr__(name: str):
    # ``from compox_ray import Client`` without every server process importing the client (httpx, tqdm).
    if name in _CLIENT_NAMES:
        from compox_ray import client

        return getattr(client, name)
    raise AttributeError(f"module 'compox_ray' has no attribute {name!r}")
