"""The Python client: numpy in, numpy out, over the same REST API as any Compox client.

    from compox_ray import Client
    client = Client("http://127.0.0.1:5481", token=None)    # defaults: $COMPOX_RAY_URL, $COMPOX_RAY_TOKEN
    result = client.run("denoise_3d", volume, {"sigma": 1.5})  # uploads, waits with a progress bar
    denoised = result["image"]                                  # the output slices stacked

``AsyncClient`` has the same methods, for many jobs at once. Errors are CompoxRayError (RunFailed,
RunStopped for runs), carrying the server's ``code``, ``detail`` and a run's ``log``.
"""

from compox_ray.client.async_client import AsyncClient
from compox_ray.client.errors import CompoxRayError, RunFailed, RunStopped
from compox_ray.client.packages import package_archive, zip_folder
from compox_ray.client.results import RunResult, checkpoint_table
from compox_ray.client.sync_client import Client

CompoxClient = Client  # the name of earlier releases

__all__ = ["AsyncClient", "Client", "CompoxClient", "CompoxRayError", "RunFailed", "RunResult", "RunStopped",
           "checkpoint_table", "package_archive", "zip_folder"]
