"""Where the project's Rust executables are.

``pip install .`` builds the product's executables (``strategy/native/build.rs``) under the
build's ``target/`` directory, and the wheel takes them from there through the package's
``bin`` link, so they are installed in ``phantom_pipeline/bin/``. The benchmark package
``phantom_bench`` has its own ``bin/`` the same way and looks its tools up with
:func:`executable` too. ``PHANTOM_BIN_DIR`` overrides the location for both (e.g. a cargo
target directory during development).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PACKAGE_BIN = Path(__file__).resolve().parent / "bin"


class MissingExecutableError(FileNotFoundError):
    """A phantom executable is not installed where the package expects it."""


def bin_dir(package_bin: Path = PACKAGE_BIN) -> Path:
    """The directory holding ``phantom-*`` executables of the package whose ``bin/`` is
    ``package_bin`` (this package's by default)."""
    override = os.environ.get("PHANTOM_BIN_DIR")
    return Path(override) if override else package_bin


def executable(name: str, package_bin: Path = PACKAGE_BIN) -> Path:
    """Path of executable ``name`` (e.g. ``phantom-feeder``); raises a clear error if absent."""
    directory = bin_dir(package_bin)
    path = directory / name
    if not path.is_file():
        raise MissingExecutableError(
            f"{name} not found in {directory}: reinstall the package that ships it (`pip "
            "install .` builds the product's executables, `pip install ./bench` the "
            "benchmark tools) or point PHANTOM_BIN_DIR at a directory that has them"
        )
    mode = path.stat().st_mode
    if not mode & stat.S_IXUSR:
        # Some wheel tools drop the executable bit; restore it for the owner.
        path.chmod(mode | stat.S_IXUSR)
    return path
