"""Is this a complete HDF5 file? h5py opening it is the test: the 8-byte signature alone
accepts truncated and header-only files."""

from pathlib import Path

import h5py


def is_hdf5_file(path: Path | str) -> bool:
    try:
        with h5py.File(path, "r") as item:
            # Touch the root group's members: a file cut after the superblock fails here.
            list(item.keys())
        return True
    except Exception:  # h5py raises OSError, KeyError, RuntimeError... for damaged files
        return False
