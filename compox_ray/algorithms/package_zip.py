"""Write a package as a zip: files at the root, sorted, with fixed timestamps.

The same files always give the same bytes, so an export of an unchanged version redeploys as
"unchanged" and two exports can be compared byte for byte.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can record


def write_package_zip(entries: Iterable[tuple[str, Path]], target: Path) -> None:
    """``entries``: (path inside the package, local file to read it from)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for relative, source in sorted(entries, key=lambda entry: entry[0]):
            info = zipfile.ZipInfo(relative, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.file_size = Path(source).stat().st_size  # lets zipfile pick zip64 for large members
            with open(source, "rb") as reader, archive.open(info, "w") as writer:
                shutil.copyfileobj(reader, writer, 4 * 2**20)
