"""May the server read this HDF5 file? It must be a complete file whose bytes are all its data.

h5py opening a file is the first test (the 8-byte signature alone accepts truncated and header-only
files; HDF5 compares the end of file its superblock declares with the real one). Then every object
reachable from the root is looked at with h5py's low-level API, before any data is read, and the
file is refused (InvalidHdf5File, saying why) where reading it could go past its own bytes or run a
reader out of memory:
- external links, and link types other than hard and soft (soft links resolve inside the file);
- datasets with external storage (their bytes live in other files, /dev/zero included), virtual
  datasets (they map other files), filters other than the standard ones (gzip, lzf, shuffle,
  fletcher32, scaleoffset, szip: any other id loads a plugin or fails late);
- references other than HDF5's in-file object and region references (newer ones may name files);
- declared sizes (shape x item size of every dataset and attribute, whatever the compression)
  adding up to more than ``max_item_bytes``, or chunks far larger than their dataset (reading one
  element allocates a whole chunk);
- more objects or deeper groups than a reader needs: a hostile file with a million groups is
  refused after the first few thousand, not walked to its end.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import BinaryIO

import h5py
from h5py import h5a, h5d, h5g, h5l, h5o, h5s, h5t, h5z

ALLOWED_FILTERS = {h5z.FILTER_DEFLATE: "gzip", h5z.FILTER_LZF: "lzf", h5z.FILTER_SHUFFLE: "shuffle",
                   h5z.FILTER_FLETCHER32: "fletcher32", h5z.FILTER_SCALEOFFSET: "scaleoffset",
                   h5z.FILTER_SZIP: "szip"}
# Links, attributes and datatype members looked at, together. A Compox item holds a handful; one
# costs up to ~0.3 ms of CPU to look at, so a hostile file's check stays well under a second.
MAX_OBJECTS = 1_000
MAX_GROUP_DEPTH = 32
MAX_TYPE_DEPTH = 16
# A chunk may be larger than its dataset (unlimited dimensions), but not by more than this.
CHUNK_ALLOWANCE_BYTES = 64 * 2**20
# The server passes its setting max_item_bytes; this bound is for readers outside it (client, tests).
DEFAULT_MAX_ITEM_BYTES = 8 * 2**30


class InvalidHdf5File(ValueError):
    """The file is not HDF5, or reading it could reach past its own bytes; the message says why."""


def hdf5_problem(source: Path | str | BinaryIO, max_item_bytes: int) -> str | None:
    """Why the server will not read the HDF5 file at ``source`` (a path or a file object), or None."""
    try:
        with h5py.File(source, "r") as item:
            check_hdf5_file(item, max_item_bytes)
    except InvalidHdf5File as error:
        return str(error)
    except Exception:  # h5py raises OSError, KeyError, RuntimeError... for damaged files
        return "The bytes are not a complete HDF5 file."
    return None


def check_hdf5_file(item: h5py.File, max_item_bytes: int) -> None:
    """Raise InvalidHdf5File unless the open file ``item`` is safe to read (see the module's docstring)."""
    _Walk(max_item_bytes).run(item.id)  # a FileID is the root group's too


def _text(name: bytes) -> str:
    return name.decode("utf-8", errors="replace")


class _Walk:
    """One pass over the object tree, following hard links only, each object once."""

    def __init__(self, max_item_bytes: int):
        self.max_item_bytes = max_item_bytes
        self.spent = 0
        self.declared_bytes = 0
        self.seen: set[int] = set()

    def spend(self, path: str) -> None:
        self.spent += 1
        if self.spent > MAX_OBJECTS:
            raise InvalidHdf5File(f"The file holds more than {MAX_OBJECTS} links, attributes and type members "
                                  f"(the walk stopped at {path!r}).")

    def run(self, root: h5g.GroupID) -> None:
        self.seen.add(h5o.get_info(root).addr)
        self.attributes(root, "/")
        pending = [(root, "/", 0)]
        while pending:
            group, path, depth = pending.pop()
            for name, link_type, address in self.links(group, path):
                child_path = f"{path.rstrip('/')}/{_text(name)}"
                if link_type == h5l.TYPE_SOFT:
                    continue  # resolves inside this file, to an object reached by its hard link
                if link_type != h5l.TYPE_HARD:
                    kind = "an external link" if link_type == h5l.TYPE_EXTERNAL else f"a link of type {link_type}"
                    raise InvalidHdf5File(f"{child_path!r} is {kind}: it points outside the file.")
                if address in self.seen:
                    continue
                self.seen.add(address)
                child = h5o.open(group, name)
                if isinstance(child, h5g.GroupID):
                    if depth + 1 > MAX_GROUP_DEPTH:
                        raise InvalidHdf5File(f"Groups nest deeper than {MAX_GROUP_DEPTH} levels at {child_path!r}.")
                    pending.append((child, child_path, depth + 1))
                elif isinstance(child, h5d.DatasetID):
                    self.dataset(child, child_path)
                elif isinstance(child, h5t.TypeID):  # a named (committed) datatype
                    self.datatype(child, child_path, 0)
                self.attributes(child, child_path)

    def links(self, group: h5g.GroupID, path: str) -> list[tuple[bytes, int, int]]:
        """(name, link type, object address of a hard link) for the group's links, at most what the
        budget allows (the iteration stops there)."""
        found: list[tuple[bytes, int, int]] = []

        def visit(name: bytes, info) -> bool | None:
            found.append((name, info.type, info.u))  # h5py hands every call the same LinkInfo object
            # Stops the iteration; h5py would turn an exception raised here into a SystemError.
            return True if self.spent + len(found) > MAX_OBJECTS else None

        group.links.iterate(visit, info=True)
        for _ in found:
            self.spend(path)
        return found

    def attributes(self, owner, path: str) -> None:
        if not h5a.get_num_attrs(owner):  # a tenth of h5o.get_info's cost; most objects have none
            return
        names: list[bytes] = []

        def visit(name: bytes) -> bool | None:
            names.append(name)
            return True if self.spent + len(names) > MAX_OBJECTS else None

        h5a.iterate(owner, visit)  # one pass: opening by index sorts the attributes anew each time
        for name in names:
            self.spend(path)
            attribute = h5a.open(owner, name)
            where = f"attribute {_text(name)!r} of {path!r}"
            self.datatype(attribute.get_type(), where, 0)
            self.declare(attribute.get_space(), attribute.get_type(), where)

    def dataset(self, dataset: h5d.DatasetID, path: str) -> None:
        plist = dataset.get_create_plist()
        layout = plist.get_layout()
        if layout == h5d.VIRTUAL:
            raise InvalidHdf5File(f"Dataset {path!r} is a virtual dataset: it maps data from other files.")
        if plist.get_external_count():
            raise InvalidHdf5File(f"Dataset {path!r} uses external storage: its bytes live in files outside "
                                  "this one.")
        for index in range(plist.get_nfilters()):
            code, _flags, _values, name = plist.get_filter(index)
            if code not in ALLOWED_FILTERS:
                raise InvalidHdf5File(f"Dataset {path!r} uses filter {code} ({_text(name) or 'unnamed'}); this server "
                                      f"reads only {', '.join(ALLOWED_FILTERS.values())}.")
        datatype = dataset.get_type()
        self.datatype(datatype, f"dataset {path!r}", 0)
        nbytes = self.declare(dataset.get_space(), datatype, f"dataset {path!r}")
        if layout == h5d.CHUNKED:
            chunk_bytes = math.prod(plist.get_chunk()) * datatype.get_size()
            if chunk_bytes > max(nbytes, CHUNK_ALLOWANCE_BYTES):
                raise InvalidHdf5File(f"Dataset {path!r} declares chunks of {chunk_bytes} bytes for {nbytes} bytes "
                                      "of data.")

    def declare(self, space: h5s.SpaceID, datatype: h5t.TypeID, what: str) -> int:
        """Count an array's declared bytes against the limit; answers them."""
        nbytes = space.get_simple_extent_npoints() * datatype.get_size()
        self.declared_bytes += nbytes
        if self.declared_bytes > self.max_item_bytes:
            raise InvalidHdf5File(f"The file declares more than {self.max_item_bytes} bytes of data (at {what}, "
                                  f"{nbytes} bytes; the limit is the setting max_item_bytes).")
        return nbytes

    def datatype(self, datatype: h5t.TypeID, what: str, depth: int) -> None:
        if depth > MAX_TYPE_DEPTH:
            raise InvalidHdf5File(f"The datatype of {what} nests deeper than {MAX_TYPE_DEPTH} levels.")
        kind = datatype.get_class()
        if kind == h5t.REFERENCE:
            if not (datatype.equal(h5t.STD_REF_OBJ) or datatype.equal(h5t.STD_REF_DSETREG)):
                raise InvalidHdf5File(f"The datatype of {what} holds references that may name other files.")
        elif kind == h5t.COMPOUND:
            for index in range(datatype.get_nmembers()):
                self.spend(what)
                self.datatype(datatype.get_member_type(index), what, depth + 1)
        elif kind in (h5t.ARRAY, h5t.VLEN, h5t.ENUM):
            self.datatype(datatype.get_super(), what, depth + 1)
