"""One pinned wheel from PyPI, fetched with pip, checked by sha256 and cached; never installed.

The built-in datasets read CSV files inside the ``crabnet`` wheel (:mod:`data.builtin`) and the
embedding comparison reads tables inside the ``elementembeddings`` wheel
(:mod:`data.element_embeddings`). Both go through :func:`ensure_wheel`, which

* returns the cached wheel when its sha256 is the pinned one (a cached file with another
  sha256 is deleted and fetched again);
* copies a wheel the user passes (offline use) into the cache after checking it, leaving the
  user's file alone;
* otherwise runs ``pip download --no-deps`` with the current interpreter into a temporary
  folder inside the cache, checks the sha256 and moves the wheel into place. A wheel with
  another sha256 is deleted with that folder, never kept.

Failures raise :class:`WheelError`, whose ``kind`` says whether the wheel could not be had
(:data:`UNAVAILABLE`) or had another sha256 (:data:`CHECKSUM`); each caller turns it into its
own exception type.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from fingerprints.io import atomic_path

from .download import sha256_of

__all__ = ["CHECKSUM", "PIP_TIMEOUT", "UNAVAILABLE", "WheelError", "ensure_wheel", "pip_download"]

logger = logging.getLogger(__name__)

#: ``WheelError.kind``: the wheel is not cached, not where the user said, or pip failed.
UNAVAILABLE = "unavailable"
#: ``WheelError.kind``: a wheel was found but has another sha256; it was not used.
CHECKSUM = "checksum"
PIP_TIMEOUT = 600.0
#: Lines of pip's output quoted in an error message.
_PIP_TAIL_LINES = 6


class WheelError(RuntimeError):
    """A pinned wheel could not be had.

    Attributes
    ----------
    kind : str
        :data:`UNAVAILABLE` or :data:`CHECKSUM`.
    """

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _package(requirement: str) -> str:
    return requirement.split("==", 1)[0]


def pip_download(
    requirement: str,
    *,
    name: str,
    sha256: str,
    directory: Path,
    timeout: float = PIP_TIMEOUT,
    manual_hint: str = "",
    pip_options: Sequence[str] = (),
) -> Path:
    """Download one wheel with ``pip download --no-deps``, verify it, move it into ``directory``.

    Parameters
    ----------
    requirement : str
        ``"package==version"``.
    name : str
        The wheel file pip is expected to produce.
    sha256 : str
        Expected checksum (lower-case hex).
    directory : Path
        Where the verified wheel is put (created if needed).
    timeout : float, keyword-only
        Seconds pip may take.
    manual_hint : str, keyword-only
        Appended to error messages: how to get the wheel by hand.
    pip_options : sequence of str, keyword-only
        Extra ``pip download`` options, e.g. ``("--ignore-requires-python",)``.

    Returns
    -------
    Path
        ``directory / name``.

    Raises
    ------
    WheelError
        ``kind`` UNAVAILABLE: pip could not run, failed, timed out or produced no such
        wheel; CHECKSUM: the wheel has another sha256 (it was deleted).
    """
    directory.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", *pip_options, "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--retries", "2", "--timeout", "30", requirement,
    ]  # fmt: skip
    hint = f" {manual_hint}" if manual_hint else ""
    logger.info("downloading %s from PyPI with pip", name)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".pip-download-", dir=directory) as temp:
        try:
            result = subprocess.run(
                [*command, "-d", temp], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise WheelError(
                f"pip could not download {requirement} within {timeout:g} s (is PyPI reachable?).{hint}",
                kind=UNAVAILABLE,
            ) from None
        except OSError as err:
            raise WheelError(f"could not run pip ({sys.executable} -m pip): {err}.{hint}", kind=UNAVAILABLE) from None
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout or "").strip().splitlines()[-_PIP_TAIL_LINES:])
            reason = (
                f"pip is not installed for {sys.executable}"
                if "No module named pip" in (result.stderr or "")
                else f"pip exited with status {result.returncode} (is PyPI reachable?)"
            )
            raise WheelError(
                f"could not download {requirement} from PyPI: {reason}.\npip said:\n{tail}\n{manual_hint}".rstrip(),
                kind=UNAVAILABLE,
            )
        downloaded = Path(temp) / name
        if not downloaded.is_file():
            found = sorted(p.name for p in Path(temp).iterdir())
            raise WheelError(
                f"pip download of {requirement} did not produce {name} (got {found}).{hint}", kind=UNAVAILABLE
            )
        actual = sha256_of(downloaded)
        if actual != sha256:
            # The temporary folder (and the bad wheel in it) is deleted on the way out.
            raise WheelError(
                f"the {name} downloaded from PyPI has sha256 {actual}, expected {sha256}; it was deleted. "
                "The package on the index differs from the pinned one.",
                kind=CHECKSUM,
            )
        target = directory / name
        os.replace(downloaded, target)
    logger.info("downloaded %s in %.1f s (sha256 verified)", target, time.perf_counter() - started)
    return target


def ensure_wheel(
    requirement: str,
    *,
    name: str,
    sha256: str,
    cache_dir: str | os.PathLike,
    wheel: str | os.PathLike | None = None,
    timeout: float = PIP_TIMEOUT,
    manual_hint: str = "",
    pip_options: Sequence[str] = (),
) -> Path:
    """The verified wheel ``cache_dir / name``: cached, copied from ``wheel`` or downloaded.

    Parameters
    ----------
    requirement : str
        ``"package==version"``, for pip and for messages.
    name : str
        File name of the wheel.
    sha256 : str
        Expected checksum (hex, any case).
    cache_dir : path
        Folder the wheel is kept in (created if needed).
    wheel : path, optional
        A local copy (offline use): checked, then copied into the cache; the file itself is
        never modified or deleted.
    timeout, manual_hint, pip_options :
        As for :func:`pip_download`, used only when pip runs.

    Returns
    -------
    Path
        The cached wheel, whose sha256 was just verified.

    Raises
    ------
    WheelError
        ``kind`` CHECKSUM: ``wheel`` (or the downloaded wheel) has another sha256;
        UNAVAILABLE: ``wheel`` does not exist, or no verified wheel is cached and pip failed.
    """
    sha256 = sha256.lower()
    package = _package(requirement)
    directory = Path(cache_dir).expanduser()
    cached = directory / name
    if wheel is not None:
        given = Path(wheel).expanduser()
        if not given.is_file():
            raise WheelError(f"{package} wheel {given} does not exist or is not a file", kind=UNAVAILABLE)
        actual = sha256_of(given)
        if actual != sha256:
            raise WheelError(
                f"{package} wheel {given} has sha256 {actual}, expected {sha256} ({requirement} from PyPI); "
                "it was not used",
                kind=CHECKSUM,
            )
        if cached.is_file() and (cached.samefile(given) or sha256_of(cached) == sha256):
            return cached
        with atomic_path(cached) as temp:
            shutil.copyfile(given, temp)
        logger.info("copied %s into the cache as %s", given, cached)
        return cached
    if cached.is_file():
        actual = sha256_of(cached)
        if actual == sha256:
            return cached
        logger.warning(
            "cached %s has sha256 %s instead of %s; deleting it and downloading again", cached, actual, sha256
        )
        cached.unlink(missing_ok=True)
    return pip_download(
        requirement, name=name, sha256=sha256, directory=directory, timeout=timeout,
        manual_hint=manual_hint, pip_options=pip_options,
    )  # fmt: skip
