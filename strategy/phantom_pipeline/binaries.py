"""Where the project's Rust executables are.

``pip install .`` builds them (``ringbuf/pyext/build.rs``) into ``phantom_pipeline/bin/``
inside the installed package. ``PHANTOM_BIN_DIR`` overrides the location (e.g. a cargo
target directory during development).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PACKAGE_BIN = Path(__file__).resolve().parent / "bin"


class MissingExecutableError(FileNotFoundError):
    """A phantom executable is not installed where the package expects it."""


def bin_dir() -> Path:
    """The directory holding ``phantom-*`` executables."""
    override = os.environ.get("PHANTOM_BIN_DIR")
    return Path(override) if override else PACKAGE_BIN


def executable(name: str) -> Path:
    """Path of executable ``name`` (e.g. ``phantom-ring``); raises a clear error if absent."""
    path = bin_dir() / name
    if not path.is_file():
        raise MissingExecutableError(
            f"{name} not found in {bin_dir()}: reinstall the package (`pip install .` builds "
            "the executables) or point PHANTOM_BIN_DIR at a directory that has them"
        )
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        # Some wheel tools drop the executable bit; restore it for the owner.
        path.chmod(mode | stat.S_IXUSR)
    return path
