"""Small, robust file downloader: cache check, resume, retries, checksums, atomic placement.

Used for the ICSD substitution-count files (small, pinned sha256), a PyPI wheel (pinned
sha256) and the multi-GB Alexandria ``.json.bz2`` files (size and sha256 sometimes unknown).

Guarantees of :func:`fetch`:

* A file at ``dest`` has passed the checks that were asked for: the data are streamed to
  ``<dest>.part`` and only moved into place with :func:`os.replace` after the size and
  sha256 checks; a half-written or corrupt file is never at ``dest``.
* An interrupted download keeps its ``.part`` file; the next attempt (in the same call or a
  later one) resumes it with an HTTP ``Range`` request and restarts cleanly from zero when
  the server does not honour it.
* Network failures end in :class:`OfflineError` whose message tells how to download the file
  by hand; HTTP errors name the URL and the status; 4xx answers are not retried.
* A full disk ends in :class:`fingerprints.io.DiskFullError` naming the file; the bytes
  already written stay in ``.part`` and are resumed from once there is room again.
* ``file://`` URLs and plain local paths are copied with the same checks (tests, offline use).
* Concurrent calls for the same ``dest`` (threads or processes, POSIX) are serialised by a
  lock file ``<dest>.lock`` that exists only while a download runs.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import requests
import urllib3
from tqdm import tqdm

from fingerprints.io import DiskFullError, disk_full_error, is_disk_full, no_room_reason

try:  # POSIX only; without it, concurrent downloads of one file are not serialised.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ChecksumError",
    "DownloadError",
    "OfflineError",
    "SizeMismatchError",
    "default_cache_dir",
    "fetch",
    "sha256_of",
]

logger = logging.getLogger(__name__)

USER_AGENT = "chemmap-downloader (python-requests)"
_HASH_BLOCK = 1 << 20
_MAX_BACKOFF = 30.0
_MAX_RETRY_AFTER = 60.0
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CONTENT_RANGE_RE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)

# Errors raised while reading the body of a response: the connection broke mid-stream.
_STREAM_ERRORS = (
    urllib3.exceptions.HTTPError,
    requests.RequestException,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


# --------------------------------------------------------------------------- errors


class DownloadError(RuntimeError):
    """A file could not be downloaded or copied.

    Attributes
    ----------
    url : str or None
        The URL (or local path) that was fetched.
    status : int or None
        The HTTP status of the failing answer, when there was one.
    """

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class OfflineError(DownloadError):
    """The host could not be reached (no network, DNS failure, refused, timed out, dropped).

    The message says how to download the file by hand.
    """


class ChecksumError(DownloadError):
    """The downloaded data do not have the expected sha256; the file is not kept.

    Attributes
    ----------
    expected, actual : str
        The expected and the computed sha256 (lower-case hex).
    """

    def __init__(self, message: str, *, expected: str, actual: str, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.expected = expected
        self.actual = actual


class SizeMismatchError(DownloadError):
    """The downloaded data (or the size the server announces) do not have the expected size.

    Attributes
    ----------
    expected, actual : int
        The expected and the actual (or announced) size in bytes.
    """

    def __init__(self, message: str, *, expected: int, actual: int, url: str | None = None) -> None:
        super().__init__(message, url=url)
        self.expected = expected
        self.actual = actual


class _TransientError(Exception):
    """Internal: an attempt failed in a way worth retrying.

    ``kind`` is ``"unreachable"`` (no answer at all), ``"interrupted"`` (the connection broke
    while the body was streamed) or ``"status"`` (5xx, 408, 429).
    """

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after


class _RestartFromZero(Exception):
    """Internal: the ``.part`` file cannot be resumed; it was deleted, request again."""


# --------------------------------------------------------------------------- helpers


def sha256_of(path: str | os.PathLike[str], *, block_size: int = _HASH_BLOCK) -> str:
    """Return the sha256 of a file, read in blocks (constant memory).

    Parameters
    ----------
    path : str or os.PathLike
        The file to hash.
    block_size : int, optional
        Bytes read at a time.

    Returns
    -------
    str
        The lower-case hexadecimal digest.
    """
    return _hash_file(Path(path), block_size=block_size).hexdigest()


def default_cache_dir() -> Path:
    """Return the directory where downloads are cached (it is not created).

    Returns
    -------
    pathlib.Path
        ``$CHEMMAP_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/chemmap`` if
        ``XDG_CACHE_HOME`` is set to an absolute path, else ``~/.cache/chemmap``.
    """
    explicit = os.environ.get("CHEMMAP_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).expanduser().is_absolute():  # the XDG spec says to ignore relative paths
        return Path(xdg).expanduser() / "chemmap"
    return Path.home() / ".cache" / "chemmap"


def _hash_file(path: Path, *, block_size: int = _HASH_BLOCK) -> hashlib._Hash:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(block_size):
            hasher.update(block)
    return hasher


def _normalize_sha256(sha256: str | None) -> str | None:
    if sha256 is None:
        return None
    value = sha256.strip().lower()
    if value.startswith("sha256:"):
        value = value[len("sha256:") :]
    if not _SHA256_RE.match(value):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {sha256!r}")
    return value


def _manual_instructions(url: str, dest: Path, manual_hint: str | None) -> str:
    """How to get the file without this module.

    A hint that already names the URL is a full instruction and is used as is; any other
    hint names the way to pass the file (e.g. a CLI option) and is wrapped.
    """
    if manual_hint is None:
        return f"download {url} by hand and save it as {dest}"
    if url in manual_hint:
        return manual_hint
    return f"download {url} by hand and pass its path with {manual_hint}"


def _describe(exc: BaseException) -> str:
    """A one-line description of a network exception (the innermost urllib3 reason if any)."""
    reason: BaseException = exc
    for _ in range(4):
        inner = reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None
        inner = getattr(reason, "reason", None) or inner
        if not isinstance(inner, BaseException) or inner is reason:
            break
        reason = inner
    text = f"{type(reason).__name__}: {reason}"
    return text if len(text) <= 300 else text[:297] + "..."


def _timeouts(timeout: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return float(connect), float(read)
    return float(timeout), float(timeout)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """Return ``(start, total)`` from a Content-Range header (either may be None)."""
    if not value:
        return None, None
    match = _CONTENT_RANGE_RE.match(value)
    if not match:
        return None, None
    start = int(match.group(1)) if match.group(1) is not None else None
    total = int(match.group(3)) if match.group(3) != "*" else None
    return start, total


def _retry_after_seconds(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return min(float(value.strip()), _MAX_RETRY_AFTER)
    return None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _file_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _cache_ok(dest: Path, sha256: str | None, size: int | None) -> bool:
    """True when ``dest`` is a file that passes the known checks (existence when none)."""
    if not dest.is_file():
        return False
    actual_size = dest.stat().st_size
    if size is not None and actual_size != size:
        logger.warning("%s exists but has %d bytes instead of %d; fetching it again", dest, actual_size, size)
        return False
    if sha256 is not None:
        actual = sha256_of(dest)
        if actual != sha256:
            logger.warning("%s exists but its sha256 is %s instead of %s; fetching it again", dest, actual, sha256)
            return False
    return True


def _check_and_place(
    part: Path,
    dest: Path,
    *,
    digest: str,
    sha256: str | None,
    size: int | None,
    url: str,
) -> Path:
    """Check the finished ``part`` file and move it to ``dest``; delete it if it fails."""
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        _unlink(part)
        raise SizeMismatchError(
            f"size mismatch for {url}: expected {size} bytes, got {actual_size}; the file was not kept",
            expected=size,
            actual=actual_size,
            url=url,
        )
    if sha256 is not None and digest != sha256:
        _unlink(part)
        raise ChecksumError(
            f"sha256 mismatch for {url}: expected {sha256}, got {digest}; the file was not kept",
            expected=sha256,
            actual=digest,
            url=url,
        )
    os.replace(part, dest)
    if sha256 is None:
        logger.info("fetched %s (%d bytes, sha256 %s)", dest, actual_size, digest)
    else:
        logger.info("fetched %s (%d bytes, sha256 verified)", dest, actual_size)
    return dest


@contextmanager
def _locked(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<dest>.lock`` (POSIX; no-op elsewhere or if unsupported).

    The lock file is removed on release; the inode check after locking makes removal safe.
    """
    if fcntl is None:
        yield
        return
    lock_path = dest.with_name(dest.name + ".lock")
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                logger.info("another download of %s is running; waiting for it", dest)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:  # e.g. ENOLCK on some network file systems
            os.close(fd)
            logger.debug("cannot lock %s (%s); continuing without a lock", lock_path, exc)
            yield
            return
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock_path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder before us removed the file: lock the new one
    try:
        yield
    finally:
        _unlink(lock_path)
        os.close(fd)


def _progress_bar(*, total: int | None, initial: int, desc: str, enabled: bool) -> tqdm:
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
    )


# --------------------------------------------------------------------------- fetch


def fetch(
    url: str | os.PathLike[str],
    *,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    size: int | None = None,
    timeout: float | tuple[float, float] = 30.0,
    retries: int = 3,
    backoff: float = 1.0,
    progress: bool = True,
    chunk_size: int = 1 << 20,
    manual_hint: str | None = None,
    session: requests.Session | None = None,
) -> Path:
    """Download ``url`` to ``dest`` (or reuse a cached copy), verifying size and sha256.

    Parameters
    ----------
    url : str or os.PathLike
        An ``http(s)://`` URL, a ``file://`` URL or a local path. Local files are copied
        with the same checks.
    dest : str or os.PathLike
        Where the file ends up. Parent directories are created. While the download runs,
        the data are in ``<dest>.part`` (kept when interrupted, resumed next time).
    sha256 : str, optional
        Expected sha256 (hex, case-insensitive, optional ``sha256:`` prefix). When given,
        a mismatch raises :class:`ChecksumError` and the data are not kept.
    size : int, optional
        Expected size in bytes. A mismatch (announced by the server or actual) raises
        :class:`SizeMismatchError`.
    timeout : float or tuple of float, optional
        ``(connect, read)`` timeouts in seconds; a single number is used for both. The read
        timeout bounds every wait for data, not the whole download.
    retries : int, optional
        How many times a failed attempt is retried (so ``retries + 1`` attempts at most) on
        transient errors: connection failures, timeouts, connections dropped mid-stream,
        HTTP 5xx, 408 and 429. Every retry resumes from the ``.part`` file. Other 4xx
        answers (404, 403, ...) are not retried.
    backoff : float, optional
        Seconds to wait before the first retry; doubled for each further retry (at most
        30 s). A numeric ``Retry-After`` header (at most 60 s) takes precedence.
    progress : bool, optional
        Show a tqdm progress bar on stderr.
    chunk_size : int, optional
        Bytes read and written at a time.
    manual_hint : str, optional
        How a user who downloads the file by hand passes it on, e.g. a CLI option such as
        ``"--counts PATH"``; the error message then says "download <url> by hand and pass
        its path with <manual_hint>". A hint that contains the URL is used verbatim as the
        whole instruction. Without a hint the message says to save the file as ``dest``.
    session : requests.Session, optional
        Session used for HTTP requests (not closed); a new one is used by default.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    OfflineError
        The host could not be reached or the connection kept failing (after the retries).
    ChecksumError
        The data do not match ``sha256``; nothing is left at ``dest`` or in ``.part``.
    SizeMismatchError
        The data do not match ``size``; nothing is left at ``dest`` or in ``.part``.
    DownloadError
        Any other failure: an HTTP error status, a missing local file, an unsupported URL.
    fingerprints.io.DiskFullError
        The disk (or quota) is full; what was received is kept in ``.part`` for the next call.

    Notes
    -----
    Cache: if ``dest`` exists and matches ``sha256`` (or ``size`` when no sha256 is known;
    mere existence when neither is known, since only checked files are ever placed there)
    it is returned without touching the network. A file that does not match is deleted
    with a warning and fetched again.

    Without a ``sha256``, a ``.part`` left by an earlier call is resumed on the assumption
    that the remote file did not change in between (within one call, ``If-Range`` guards
    against that).
    """
    dest = Path(dest)
    sha256 = _normalize_sha256(sha256)
    if size is not None and size < 0:
        raise ValueError(f"size must be non-negative, got {size}")
    if retries < 0:
        raise ValueError(f"retries must be non-negative, got {retries}")
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    if dest.is_dir():
        raise ValueError(f"dest must be a file path, not the directory {dest}")

    source = _local_source(url)
    url_text = os.fspath(url)

    key = _file_key(dest)
    if _cache_ok(dest, sha256, size):
        logger.debug("using cached %s", dest)
        return dest

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    with _locked(dest):
        # Another thread or process may have fetched (or replaced) the file meanwhile.
        if _file_key(dest) != key and _cache_ok(dest, sha256, size):
            return dest
        if dest.exists() and not (source is not None and source.exists() and source.samefile(dest)):
            _unlink(dest)  # it failed the checks: never leave a known-bad file in place
        if source is not None:
            return _copy_local(
                source, dest, part, url=url_text, sha256=sha256, size=size,
                progress=progress, chunk_size=chunk_size,
            )  # fmt: skip
        own_session = session is None
        active = requests.Session() if own_session else session
        try:
            return _download_http(
                url_text, dest, part, sha256=sha256, size=size, timeout=_timeouts(timeout),
                retries=retries, backoff=backoff, progress=progress, chunk_size=chunk_size,
                manual_hint=manual_hint, session=active,
            )  # fmt: skip
        finally:
            if own_session:
                active.close()


def _local_source(url: str | os.PathLike[str]) -> Path | None:
    """The local path behind ``url``, or None for http(s) URLs; ValueError for other schemes."""
    if not isinstance(url, str):
        return Path(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file:// URLs on a remote host are not supported: {url}")
        return Path(url2pathname(parts.path))
    if scheme == "" or (len(scheme) == 1 and os.name == "nt"):  # plain path or C:\...
        return Path(url)
    raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {url}")


def _copy_local(
    source: Path,
    dest: Path,
    part: Path,
    *,
    url: str,
    sha256: str | None,
    size: int | None,
    progress: bool,
    chunk_size: int,
) -> Path:
    if not source.is_file():
        raise DownloadError(f"cannot copy {url}: {source} is not an existing file", url=url)
    total = source.stat().st_size
    if size is not None and total != size:
        raise SizeMismatchError(
            f"size mismatch for {url}: expected {size} bytes, got {total}; the file was not copied",
            expected=size,
            actual=total,
            url=url,
        )
    hasher = hashlib.sha256()
    try:
        with (
            open(source, "rb") as src,
            open(part, "wb") as out,
            _progress_bar(total=total, initial=0, desc=dest.name, enabled=progress) as bar,
        ):
            while block := src.read(chunk_size):
                hasher.update(block)
                out.write(block)
                bar.update(len(block))
            out.flush()
            os.fsync(out.fileno())
    except BaseException as exc:
        _unlink(part)  # a local copy is cheap to redo: never resume it
        if is_disk_full(exc):
            raise disk_full_error(dest, exc) from exc
        raise
    return _check_and_place(part, dest, digest=hasher.hexdigest(), sha256=sha256, size=size, url=url)


def _download_http(
    url: str,
    dest: Path,
    part: Path,
    *,
    sha256: str | None,
    size: int | None,
    timeout: tuple[float, float],
    retries: int,
    backoff: float,
    progress: bool,
    chunk_size: int,
    manual_hint: str | None,
    session: requests.Session,
) -> Path:
    host = urlsplit(url).hostname or url
    failures = 0
    validator: list[str | None] = [None]  # ETag / Last-Modified of the first answer (If-Range)
    stale_part = part.exists()  # left by an earlier call: the remote file may have changed since
    while True:
        offset = part.stat().st_size if part.exists() else 0
        if size is not None and offset > size:
            logger.warning("%s is larger than the expected %d bytes; restarting", part, size)
            _unlink(part)
            offset = 0
        if size is not None and offset == size and offset > 0:
            # An earlier run got everything but stopped before the checks: verify locally.
            try:
                return _check_and_place(part, dest, digest=sha256_of(part), sha256=sha256, size=size, url=url)
            except ChecksumError:
                logger.warning("%s is complete but its sha256 is wrong; restarting", part)
                stale_part = False
                offset = 0
        try:
            digest = _attempt(
                url, dest, part, offset, size=size, timeout=timeout, progress=progress,
                chunk_size=chunk_size, session=session, validator=validator,
            )  # fmt: skip
        except _RestartFromZero:
            continue  # no request budget used: the next request has no Range header
        except _TransientError as exc:
            failures += 1
            if failures > retries:
                raise _final_error(exc, url, host, dest, part, failures, manual_hint) from None
            delay = exc.retry_after
            if delay is None:
                delay = min(backoff * 2 ** (failures - 1), _MAX_BACKOFF)
            logger.warning(
                "download of %s failed (%s); retry %d of %d in %.1f s",
                url, exc.detail, failures, retries, delay,
            )  # fmt: skip
            time.sleep(delay)
            continue
        try:
            return _check_and_place(part, dest, digest=digest, sha256=sha256, size=size, url=url)
        except ChecksumError:
            if not (stale_part and offset):
                raise
            # The resumed bytes came from an earlier call; the check already deleted them.
            logger.warning("resumed %s has the wrong sha256; downloading it again from zero", dest)
            stale_part = False


def _final_error(
    exc: _TransientError,
    url: str,
    host: str,
    dest: Path,
    part: Path,
    attempts: int,
    manual_hint: str | None,
) -> DownloadError:
    manual = _manual_instructions(url, dest, manual_hint)
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if exc.kind == "unreachable":
        return OfflineError(
            f"could not reach {host}: you seem to be offline or the host is unreachable "
            f"({exc.detail}; {tries}); {manual}",
            url=url,
        )
    if exc.kind == "interrupted":
        kept = part.stat().st_size if part.exists() else 0
        return OfflineError(
            f"lost the connection to {host} while downloading {url} ({exc.detail}; {tries}); "
            f"the {kept} bytes received so far are kept in {part} and the next call resumes "
            f"from there; or {manual}",
            url=url,
        )
    return DownloadError(
        f"cannot download {url}: the server keeps answering {exc.detail} ({tries}); try again later or {manual}",
        url=url,
        status=exc.status,
    )


def _iter_body(raw: urllib3.response.BaseHTTPResponse, chunk_size: int) -> Iterator[bytes]:
    """The raw (undecoded) body in pieces of at most ``chunk_size`` bytes, as they arrive.

    ``read1`` returns what is available instead of waiting for a full chunk, so the data
    received before a stall or a reset reach the ``.part`` file and are resumed from.
    """
    if not hasattr(raw, "read1"):  # pragma: no cover - urllib3 < 2.3
        yield from raw.stream(chunk_size, decode_content=False)
        return
    while data := raw.read1(chunk_size, decode_content=False):
        yield data


def _attempt(
    url: str,
    dest: Path,
    part: Path,
    offset: int,
    *,
    size: int | None,
    timeout: tuple[float, float],
    progress: bool,
    chunk_size: int,
    session: requests.Session,
    validator: list[str | None],
) -> str:
    """One request; stream the body into ``part``. Return the sha256 of the whole part file."""
    # identity: the bytes on disk must be the bytes of the file, not a re-encoding of them
    headers = {"Accept-Encoding": "identity", "User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator[0]:
            headers["If-Range"] = validator[0]
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as exc:
        raise DownloadError(f"invalid URL {url}: {exc}", url=url) from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _TransientError("unreachable", _describe(exc)) from exc

    with response:
        status = response.status_code
        reason = response.reason or ""
        if status == 416 and offset:
            _, total = _parse_content_range(response.headers.get("Content-Range"))
            if total == offset and (size is None or size == offset):
                logger.info("%s already holds the whole file", part)
                return sha256_of(part)
            logger.warning("server refused to resume %s (HTTP 416); restarting", url)
            _unlink(part)
            raise _RestartFromZero
        if status >= 500 or status in (408, 429):
            raise _TransientError(
                "status",
                f"HTTP {status} {reason}".strip(),
                status=status,
                retry_after=_retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 400:
            raise DownloadError(
                f"cannot download {url}: HTTP {status} {reason} (not retried)".replace("  ", " "),
                url=url,
                status=status,
            )
        if status not in (200, 206):
            raise DownloadError(f"cannot download {url}: unexpected HTTP {status} {reason}", url=url, status=status)

        content_length = response.headers.get("Content-Length")
        length = int(content_length) if content_length and content_length.isdigit() else None
        if status == 206:
            start, total = _parse_content_range(response.headers.get("Content-Range"))
            if start != offset:
                logger.warning(
                    "server answered %s for a resume from byte %d; restarting",
                    response.headers.get("Content-Range"), offset,
                )  # fmt: skip
                _unlink(part)
                raise _RestartFromZero
            if total is None and length is not None:
                total = offset + length
        else:
            if offset:
                logger.info("server does not resume %s (HTTP 200); restarting from zero", url)
            offset = 0
            total = length
            etag = response.headers.get("ETag")
            validator[0] = etag if etag and not etag.startswith("W/") else response.headers.get("Last-Modified")

        if size is not None and total is not None and total != size:
            _unlink(part)
            raise SizeMismatchError(
                f"size mismatch for {url}: expected {size} bytes, the server announces {total}",
                expected=size,
                actual=total,
                url=url,
            )

        hasher = _hash_file(part) if offset else hashlib.sha256()
        received = 0
        try:
            with (
                open(part, "ab" if offset else "wb") as out,
                _progress_bar(total=total, initial=offset, desc=dest.name, enabled=progress) as bar,
            ):
                chunks = _iter_body(response.raw, chunk_size)
                try:
                    while True:
                        try:
                            chunk = next(chunks)
                        except StopIteration:
                            break
                        except _STREAM_ERRORS as exc:
                            raise _TransientError("interrupted", _describe(exc)) from exc
                        if not chunk:
                            continue
                        out.write(chunk)
                        hasher.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                        if size is not None and offset + received > size:
                            out.close()
                            _unlink(part)
                            raise SizeMismatchError(
                                f"size mismatch for {url}: expected {size} bytes, the server sends more",
                                expected=size,
                                actual=offset + received,
                                url=url,
                            )
                finally:
                    if not out.closed:
                        out.flush()
                        os.fsync(out.fileno())
        except OSError as exc:
            if not is_disk_full(exc):
                raise
            # What reached the disk is a prefix of the file: kept, so the next call resumes.
            kept = part.stat().st_size if part.exists() else 0
            raise DiskFullError(
                part,
                f"{no_room_reason(exc)} while downloading {url} to {part}: the {kept} bytes written so far are "
                f"kept there and the next call resumes from them (nothing was put at {dest}); free some disk "
                "space and try again",
                code=exc.errno,
            ) from exc
        if total is not None and offset + received < total:
            raise _TransientError("interrupted", f"connection closed after {offset + received} of {total} bytes")
        return hasher.hexdigest()
