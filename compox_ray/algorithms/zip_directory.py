"""Bound a package zip's directory before ``zipfile`` parses it.

``zipfile.ZipFile`` reads the whole central directory into memory and builds an object per entry,
walking as many bytes as the End Of Central Directory record declares: a small upload could
declare millions of entries. This check reads that record (zip64 included) and the directory it
points at, within limits, and walks the fixed-size entry headers, stopping once there are more
than ``max_members``. It also refuses entry names ``zipfile`` would mangle or fail on: a NUL byte
(``ZipInfo`` cuts the name there, so two members can end up with one name) or bytes that are not
UTF-8 (``zipfile`` raises on a name flagged UTF-8 and reads others as cp437).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from compox_ray.algorithms.manifest import invalid_package

_EOCD = struct.Struct("<4s4H2LH")  # signature, disk, directory disk, entries here, entries, size, offset, comment
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # ..., entries here, entries, directory size, directory offset
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
_ENTRY = struct.Struct("<4s6H3L5H2L")  # central directory file header (46 bytes)
_ENTRY_SIGNATURE = b"PK\x01\x02"
_MAX_COMMENT_BYTES = 2**16 - 1
# Room per entry for its name and extra fields; names of package files are far shorter.
_DIRECTORY_BYTES_PER_MEMBER = 1024


def _directory_bounds(zip_file, file_size: int) -> tuple[int, int, int]:
    """(declared entries, directory offset, directory size) as zipfile will find them: the record
    at the very end, else the last one in the final 64 KiB (a zip comment); a zip64 record where
    its locator lies right before; bytes prepended to the zip shift the directory with them."""
    tail_size = min(file_size, _EOCD.size + _MAX_COMMENT_BYTES)
    zip_file.seek(file_size - tail_size)
    tail = zip_file.read(tail_size)
    at = len(tail) - _EOCD.size
    if at < 0 or tail[at:at + 4] != _EOCD_SIGNATURE or tail[-2:] != b"\0\0":
        at = tail.rfind(_EOCD_SIGNATURE)
        if at < 0 or len(tail) - at < _EOCD.size:
            raise invalid_package("The upload is not a readable zip file (no end of central directory record).")
    eocd_position = file_size - tail_size + at
    _, _, _, _, entries, size, _, _ = _EOCD.unpack_from(tail, at)
    directory_end = eocd_position
    record_position = eocd_position - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size
    if record_position >= 0:
        zip_file.seek(record_position)
        record = zip_file.read(_ZIP64_EOCD.size + _ZIP64_LOCATOR.size)
        if record[_ZIP64_EOCD.size:_ZIP64_EOCD.size + 4] == _ZIP64_LOCATOR_SIGNATURE \
                and record[:4] == _ZIP64_EOCD_SIGNATURE:
            fields = _ZIP64_EOCD.unpack_from(record)
            entries, size, directory_end = fields[7], fields[8], record_position
    return entries, directory_end - size, size


def check_zip_directory(zip_path: Path, max_members: int) -> None:
    """CompoxError 422 invalid_algorithm_package unless the zip's directory holds at most
    ``max_members`` entries, within ``max_members`` KiB, all with clean UTF-8 names."""
    with open(zip_path, "rb") as zip_file:
        file_size = os.fstat(zip_file.fileno()).st_size
        entries, start, size = _directory_bounds(zip_file, file_size)
        if entries > max_members:
            raise invalid_package(f"The zip declares {entries} members; a package may hold at most {max_members}.")
        if size > max_members * _DIRECTORY_BYTES_PER_MEMBER or start < 0 or start + size > file_size:
            raise invalid_package(f"The zip's central directory ({size} bytes) is larger than {max_members} "
                                  "members need, or lies outside the file.")
        zip_file.seek(start)
        directory = zip_file.read(size)
    count, position = 0, 0
    while position < len(directory):
        count += 1
        if count > max_members:
            raise invalid_package(f"The zip holds more than {max_members} members.")
        if directory[position:position + 4] != _ENTRY_SIGNATURE or position + _ENTRY.size > len(directory):
            raise invalid_package("The upload is not a readable zip file (damaged central directory).")
        fields = _ENTRY.unpack_from(directory, position)
        name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
        name = directory[position + _ENTRY.size:position + _ENTRY.size + name_length]
        if b"\0" in name:
            raise invalid_package(f"The zip member name {name[:200]!r} contains a NUL byte.")
        try:
            name.decode("utf-8")
        except UnicodeDecodeError:
            raise invalid_package(f"The zip member name {name[:200]!r} is not valid UTF-8.") from None
        position += _ENTRY.size + name_length + extra_length + comment_length
    if count != entries:
        raise invalid_package(f"The zip's directory holds {count} members but declares {entries}.")
