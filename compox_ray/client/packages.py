"""The one package-zipping helper of the client side (``Client.deploy``, ``compox-ray deploy``): a
folder is zipped as the server stages one (caches and VCS folders left out, files sorted, fixed
timestamps, so an unchanged folder always gives the same zip), a .zip goes as it is."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from compox_ray.algorithms.package_files import iter_folder_files
from compox_ray.algorithms.package_zip import write_package_zip
from compox_ray.client.errors import CompoxRayError
from compox_ray.errors import CompoxError


@contextmanager
def package_archive(path: Path | str) -> Iterator[Path]:
    """A zip file of the package at ``path``, on disk (a zipped folder only for the ``with`` block)."""
    path = Path(path)
    if path.is_dir():
        with tempfile.TemporaryDirectory(prefix="compox_ray_package_") as scratch:
            archive = Path(scratch) / f"{path.resolve().name}.zip"
            try:
                write_package_zip(iter_folder_files(path), archive)
            except CompoxError as error:  # e.g. a symlink out of the folder: refused here as the server would
                raise CompoxRayError(f"{path}: {error.detail}", code=error.code) from None
            yield archive
    elif path.is_file() and path.suffix.lower() == ".zip":
        yield path
    elif not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    else:
        raise ValueError(f"{path} is neither a package folder nor a .zip file")


def zip_folder(folder: Path | str) -> bytes:
    """The package zip as bytes (for small packages: tests, scripts)."""
    with package_archive(folder) as archive:
        return archive.read_bytes()
