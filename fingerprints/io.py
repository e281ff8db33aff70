"""File writing and the element-vector table format, kept in one place.

Every file the project writes goes through :func:`atomic_path`: the content is written to a
temporary file in the same directory and renamed over the target only when complete, so a
crash or a full disk never leaves a half-written file under the real name. A full disk (or
an exceeded quota) is reported as :class:`DiskFullError`, naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .elements import SYMBOLS

# Read once at import: os.umask can only be read by setting it, which is not thread-safe.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


#: errno values meaning the device has no room left for the data, and how to say so.
_NO_ROOM = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system",
}


class DiskFullError(OSError):
    """No room was left on the device (disk full, quota exceeded) while writing ``path``.

    The message alone is its text (no ``[Errno N]`` prefix); ``errno`` is the original one.

    Attributes
    ----------
    path : Path
        The file (or map directory) that was being written.
    """

    def __init__(self, path: str | os.PathLike, message: str, *, code: int = errno.ENOSPC) -> None:
        super().__init__(code, message)
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self):
        return (_rebuild_disk_full, (str(self.path), str(self.strerror), self.errno))


def _rebuild_disk_full(path: str, message: str, code: int) -> DiskFullError:
    return DiskFullError(path, message, code=code)


class NotWritableError(OSError):
    """``path`` cannot be written (its folder refuses new files, it is a folder, ...).

    The message names the target, never the temporary file the write went through:
    ``cannot write /x/o.csv: permission denied``. ``errno`` is the original one.

    Attributes
    ----------
    path : Path
        The file that was to be written.
    reason : str
        Why, in plain words ("permission denied").
    """

    def __init__(self, path: str | os.PathLike, reason: str, *, code: int | None = None) -> None:
        super().__init__(code, f"cannot write {path}: {reason}")
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return str(self.strerror)

    def __reduce__(self):
        return (_rebuild_not_writable, (str(self.path), self.reason, self.errno))


def _rebuild_not_writable(path: str, reason: str, code: int | None) -> NotWritableError:
    return NotWritableError(path, reason, code=code)


def not_writable_error(target: str | os.PathLike, error: OSError) -> NotWritableError:
    """The :class:`NotWritableError` for a write of ``target`` that failed with ``error``."""
    reason = error.strerror.lower() if error.strerror else str(error)
    return NotWritableError(target, reason, code=error.errno)


def is_disk_full(error: BaseException) -> bool:
    """True when ``error`` says the device has no room left (ENOSPC, EDQUOT, EFBIG)."""
    return isinstance(error, OSError) and error.errno in _NO_ROOM


def no_room_reason(error: OSError) -> str:
    """Plain words for a disk-full ``error``: "no space left on device", ..."""
    return _NO_ROOM.get(error.errno, str(error.strerror or error))


def disk_full_error(target: str | os.PathLike, error: OSError) -> DiskFullError:
    """The :class:`DiskFullError` for a write of ``target`` that failed with ``error``, after
    the partial data were removed (the target itself was never touched)."""
    return DiskFullError(
        target,
        f"{no_room_reason(error)} while writing {target}: it was not written (an earlier version, if any, is "
        "unchanged and no temporary file is left); free some disk space and try again",
        code=error.errno,
    )


def give_default_permissions(path: Path) -> None:
    """mkstemp/mkdtemp create owner-only entries; give them what a plain open()/mkdir would."""
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~_UMASK)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    On any failure (an exception, KeyboardInterrupt) the temporary file is removed and
    ``target`` is left as it was; a full disk is raised as :class:`DiskFullError` naming
    ``target``, and a target that cannot be written (its folder cannot be created or does
    not accept new files, the target is a folder) as :class:`NotWritableError` naming
    ``target``, not the temporary file.
    """
    target = Path(target)
    temp = None
    try:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as err:
            if is_disk_full(err):
                raise
            if target.parent.is_file():  # mkdir says only "file exists"
                raise NotWritableError(target, f"{target.parent} is a file, not a folder", code=err.errno) from err
            raise not_writable_error(target, err) from err
        os.close(handle)
        temp = Path(temp_name)
        yield temp
        give_default_permissions(temp)
        try:
            os.replace(temp, target)
        except OSError as err:
            if is_disk_full(err):
                raise
            raise not_writable_error(target, err) from err
    except OSError as err:
        if is_disk_full(err) and not isinstance(err, DiskFullError):
            raise disk_full_error(target, err) from err
        raise
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)


def atomic_write(target: str | os.PathLike, content: str | bytes) -> Path:
    """Write text or bytes to ``target`` atomically."""
    with atomic_path(target) as temp:
        if isinstance(content, bytes):
            temp.write_bytes(content)
        else:
            temp.write_text(content, encoding="utf-8")
    return Path(target)


def write_table(frame: pd.DataFrame, target: str | os.PathLike, *, index: bool = False) -> Path:
    """Write a DataFrame as CSV or Parquet (chosen by the suffix), atomically.

    CSV floats are written with 17 significant digits so they read back bit-for-bit.
    """
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise ValueError(f"output file {target}: unsupported suffix {target.suffix!r}, use .csv or .parquet")
    with atomic_path(target) as temp:
        if suffix == ".csv":
            frame.to_csv(temp, index=index, float_format="%.17g")
        else:
            frame.to_parquet(temp, index=index)
    return target


class ElementTableError(ValueError):
    """An element-vector table file is not in the format written by ``app.py elements``."""


def write_element_vectors(vectors: pd.DataFrame, target: str | os.PathLike) -> Path:
    """Write the (98, 98) element-vector table: first column ``element``, then one column per element."""
    frame = vectors.copy()
    frame.index.name = "element"
    return write_table(frame, target, index=True)


def read_element_vectors(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_element_vectors` and validate it.

    Returns
    -------
    DataFrame of shape (98, 98)
        Index and columns are the element symbols H..Cf in Z order.
    """
    path = Path(path)
    if not path.is_file():
        raise ElementTableError(f"element table {path} does not exist")
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, index_col=0)
    except Exception as err:  # any parser failure becomes one clear message
        raise ElementTableError(f"element table {path} could not be read: {err}") from None
    if "element" in frame.columns:
        frame = frame.set_index("element")
    missing_rows = [s for s in SYMBOLS if s not in frame.index]
    missing_cols = [s for s in SYMBOLS if s not in frame.columns]
    if missing_rows or missing_cols:
        raise ElementTableError(
            f"element table {path}: expected rows and columns H..Cf; missing rows "
            f"{missing_rows[:5]}{'...' if len(missing_rows) > 5 else ''}, missing columns "
            f"{missing_cols[:5]}{'...' if len(missing_cols) > 5 else ''}"
        )
    frame = frame.loc[list(SYMBOLS), list(SYMBOLS)]
    try:
        values = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ElementTableError(f"element table {path}: contains non-numeric values") from None
    if not np.all(np.isfinite(values)):
        raise ElementTableError(f"element table {path}: contains NaN or inf")
    result = pd.DataFrame(values, index=pd.Index(SYMBOLS, name="element"), columns=list(SYMBOLS))
    return result
