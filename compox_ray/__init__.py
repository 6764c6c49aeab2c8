"""compox_ray: a Compox-compatible algorithm execution and training server on Ray."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("compox_ray")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
