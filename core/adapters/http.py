"""SafeFetcher: the one HTTP client every outside request goes through (aiohttp, guarded)."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import IO

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver
from yarl import URL

from core.config import HttpSettings
from core.errors import (
    BlockedAddressError,
    CastfiveError,
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    InvalidUrlError,
    ResponseTooLargeError,
)
from core.netguard import IPAddress, check_url, is_blocked_ip, parse_ip, redact_url
from core.ports import DownloadResult, FetchResult

log = logging.getLogger(__name__)

AddressPolicy = Callable[[IPAddress], bool]  # True when we may connect to the address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_STATUSES = frozenset({301, 308})
# Caller headers that must not follow a redirect to another origin.
_ORIGIN_BOUND_HEADERS = ("authorization", "cookie", "proxy-authorization")
_CHUNK = 64 * 1024
_WRITE_BATCH = 1024 * 1024  # bytes gathered before one off-loop file write

# Addresses the guard refused during the current request. A mutable list in a ContextVar:
# aiohappyeyeballs connects in child tasks, which copy the context but share the list.
_refused: ContextVar[list[str] | None] = ContextVar("castfive_refused_addresses", default=None)


class _RefusedAddress(OSError):
    """Raised inside the socket factory: aiohttp treats it like any failed connect."""

    def __init__(self) -> None:
        # One fixed message: aiohappyeyeballs re-raises our exception when all attempts agree.
        super().__init__(errno.EACCES, "address refused by the Castfive address guard")


def default_address_policy(settings: HttpSettings) -> AddressPolicy:
    """Public addresses only, unless the operator switched on allow_private_addresses."""
    if settings.allow_private_addresses:
        return lambda ip: True
    return lambda ip: not is_blocked_ip(ip)


class SafeFetcher:
    """core.ports.Fetcher over one aiohttp session, with an address guard on every connect."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        address_policy: AddressPolicy | None = None,
        resolver: AbstractResolver | None = None,  # test seam: map names to chosen addresses
    ) -> None:
        self._settings = settings
        self._policy = address_policy or default_address_policy(settings)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._semaphore = asyncio.Semaphore(max(1, settings.max_concurrent_fetches))

    async def start(self) -> None:
        """Create the HTTP session; safe to call twice."""
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(
            limit=max(1, self._settings.max_concurrent_fetches),
            resolver=self._resolver,
            socket_factory=self._socket_factory,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self._settings.user_agent},
            cookie_jar=aiohttp.DummyCookieJar(),  # no state carried from one feed to another
            trust_env=False,  # never route through a proxy named in the environment
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SafeFetcher:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- the guard -------------------------------------------------------------------

    def _socket_factory(self, addr_info: AddrInfoType) -> socket.socket:
        """Create a socket only for an address the policy allows: runs before every connect."""
        family, type_, proto, _, sockaddr = addr_info
        ip = parse_ip(str(sockaddr[0])) if family in (socket.AF_INET, socket.AF_INET6) else None
        if ip is None or not self._policy(ip):
            refused = _refused.get()
            if refused is not None:
                refused.append(str(sockaddr[0]))
            log.warning("address guard refused a connection to %s", sockaddr[0])
            raise _RefusedAddress()
        return socket.socket(family=family, type=type_, proto=proto)

    # --- the port --------------------------------------------------------------------

    async def get(
        self, url: str, *, headers: Mapping[str, str] | None = None, max_bytes: int | None = None
    ) -> FetchResult:
        """GET with redirects re-checked; 304/4xx/5xx are results, failures raise FetchError."""
        s = self._settings
        cap = max_bytes if max_bytes is not None else max(s.feed_max_bytes, s.transcript_max_bytes)
        checked = check_url(url)
        timeout = self._hop_timeout()
        async with self._semaphore:
            with self._translate_errors(checked, s.total_timeout_s):
                async with asyncio.timeout(s.total_timeout_s):
                    async with self._follow(checked, headers, timeout) as (resp, final, permanent):
                        _reject_declared_size(resp, cap, final)
                        body = bytearray()
                        async for chunk in resp.content.iter_chunked(_CHUNK):
                            body += chunk
                            if len(body) > cap:
                                raise _too_large(final, cap)
                        result = FetchResult(
                            status=resp.status, url=final, body=bytes(body),
                            headers=resp.headers, permanent_url=permanent,
                        )
        return result

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> DownloadResult:
        """Stream a 2xx body to dest via dest.part, fsync and rename; raises FetchError."""
        s = self._settings
        checked = check_url(url)
        part = dest.with_suffix(dest.suffix + ".part")
        timeout = self._hop_timeout()
        async with self._semaphore:
            try:
                with self._translate_errors(checked, s.download_timeout_s):
                    async with asyncio.timeout(s.download_timeout_s):
                        async with self._follow(checked, None, timeout) as (resp, final, _):
                            if not 200 <= resp.status < 300:
                                raise _status_error(resp, final)
                            _reject_declared_size(resp, max_bytes, final)
                            size = await _stream_to_file(resp, part, max_bytes, final)
                            await asyncio.to_thread(_replace_durably, part, dest)
            except BaseException:
                # Any failure or cancellation: never leave a half file that looks like ours.
                part.unlink(missing_ok=True)
                raise
        return DownloadResult(path=dest, size=size, content_type=resp.content_type, url=final)

    # --- redirects and errors -------------------------------------------------------------

    def _hop_timeout(self) -> aiohttp.ClientTimeout:
        # The overall deadline is an asyncio.timeout around the whole redirect chain; these
        # catch a host that never accepts and a server that goes silent mid-body.
        s = self._settings
        return aiohttp.ClientTimeout(
            total=None, sock_connect=s.connect_timeout_s, sock_read=s.read_timeout_s
        )

    @asynccontextmanager
    async def _follow(
        self, url: str, headers: Mapping[str, str] | None, timeout: aiohttp.ClientTimeout
    ) -> AsyncIterator[tuple[aiohttp.ClientResponse, str, str | None]]:
        """Yield (final response, final URL, permanent URL or None), each hop re-checked."""
        await self.start()
        assert self._session is not None
        # The session sets our User-Agent; a caller's own must not replace it.
        hop_headers = {k: v for k, v in (headers or {}).items() if k.lower() != "user-agent"}
        current = url
        seen, hops, all_permanent = {url}, 0, True
        while True:
            refused = _refused.get()
            if refused is not None:
                refused.clear()  # only this hop's refusals explain this hop's failure
            resp = await self._session.get(
                current, headers=hop_headers, allow_redirects=False, timeout=timeout
            )
            location = resp.headers.get("Location")
            if resp.status not in REDIRECT_STATUSES or not location:
                break
            resp.release()
            hops += 1
            if hops > self._settings.max_redirects:
                raise FetchError(
                    f"{redact_url(url)} redirected more than {self._settings.max_redirects} times."
                )
            target = _redirect_target(current, location)
            if target in seen:
                raise FetchError(f"{redact_url(url)} redirects in a loop.")
            seen.add(target)
            all_permanent = all_permanent and resp.status in PERMANENT_STATUSES
            if URL(target).origin() != URL(current).origin():
                hop_headers = {
                    k: v for k, v in hop_headers.items() if k.lower() not in _ORIGIN_BOUND_HEADERS
                }
            log.debug("redirect %s -> %s", redact_url(current), redact_url(target))
            current = target
        try:
            yield resp, current, (current if hops and all_permanent else None)
        finally:
            resp.release()

    @contextmanager
    def _translate_errors(self, url: str, total_s: float) -> Iterator[None]:
        """Turn every library failure into a FetchError subclass with a redacted URL; log it."""
        refused: list[str] = []
        token = _refused.set(refused)
        shown = redact_url(url)
        try:
            yield
        except CastfiveError as exc:
            log.info("fetch failed: %s", exc)
            raise
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError, LookupError) as exc:
            mapped = _map_error(exc, shown, total_s, blocked=bool(refused))
            log.info("fetch failed: %s (%s)", mapped, type(exc).__name__)
            raise mapped from None
        finally:
            _refused.reset(token)


def _map_error(exc: BaseException, shown: str, total_s: float, *, blocked: bool) -> FetchError:
    """The user-facing error for a library failure; `shown` is the redacted URL."""
    # Order matters: aiohttp's timeout errors are also ClientErrors and OSErrors.
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return FetchTimeoutError(f"{shown} did not accept a connection in time.")
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return FetchTimeoutError(f"{shown} stopped sending data.")
    if isinstance(exc, TimeoutError):
        return FetchTimeoutError(f"{shown} did not finish within {total_s:g} s.")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError(f"The host of {shown} could not be found.")
    if isinstance(exc, aiohttp.ClientSSLError):
        return FetchError(f"The secure (TLS) connection to {shown} failed.")
    if isinstance(exc, aiohttp.ClientConnectorError):
        if blocked or "Castfive address guard" in str(exc):
            return BlockedAddressError(
                f"{shown} points to a private or local network address, which is not allowed."
            )
        return FetchError(f"Could not connect to {shown}.")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FetchError(f"{shown} closed the connection before the whole body arrived.")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FetchError(f"{shown} closed the connection without answering.")
    if isinstance(exc, aiohttp.InvalidURL):
        return InvalidUrlError(f"{shown} is not a usable web address.")
    if isinstance(exc, aiohttp.ClientResponseError):
        return FetchError(f"{shown} sent an invalid HTTP response.")
    if isinstance(exc, aiohttp.ClientError):
        return FetchError(f"Fetching {shown} failed ({type(exc).__name__}).")
    if isinstance(exc, OSError):  # the local file in download(), or a raw socket error
        return FetchError(f"Fetching {shown} failed: {exc.strerror or 'I/O error'}.")
    return FetchError(f"{shown} sent a response that could not be read.")


def _redirect_target(current: str, location: str) -> str:
    """The absolute, re-checked URL a Location header points to."""
    try:
        joined = URL(current).join(URL(location.strip()))
    except (ValueError, TypeError, UnicodeError):
        raise InvalidUrlError("A redirect pointed to an unreadable address.") from None
    target = URL(check_url(str(joined)))  # refuses file://, ftp:// and host-less targets
    base = URL(current)
    if target.origin() == base.origin() and target.user is None and base.user is not None:
        # Private feeds keep their credentials on same-origin hops only.
        target = target.with_user(base.user).with_password(base.password)
    return str(target)


def _reject_declared_size(resp: aiohttp.ClientResponse, cap: int, url: str) -> None:
    declared = resp.content_length
    if declared is not None and declared > cap:
        raise _too_large(url, cap)


def _too_large(url: str, cap: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(f"{redact_url(url)} is larger than the {cap:,} byte limit.")


def _status_error(resp: aiohttp.ClientResponse, url: str) -> HttpStatusError:
    return HttpStatusError(
        f"{redact_url(url)} answered with HTTP status {resp.status}.",
        resp.status,
        retry_after=parse_retry_after(resp.headers.get("Retry-After")),
    )


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def _stream_to_file(
    resp: aiohttp.ClientResponse, part: Path, cap: int, url: str
) -> int:
    """Write the body to `part`, counting decoded bytes against the cap; returns the size."""
    fh = await asyncio.to_thread(_open_part, part)
    try:
        size, pending = 0, bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > cap:  # a lying or missing Content-Length ends here
                raise _too_large(url, cap)
            pending += chunk
            if len(pending) >= _WRITE_BATCH:
                await asyncio.to_thread(fh.write, bytes(pending))
                pending.clear()
        if pending:
            await asyncio.to_thread(fh.write, bytes(pending))
        await asyncio.to_thread(_flush_and_sync, fh)
        return size
    finally:
        fh.close()


def _open_part(part: Path) -> IO[bytes]:
    part.parent.mkdir(parents=True, exist_ok=True)
    return open(part, "wb")  # closed by the caller's finally


def _flush_and_sync(fh: IO[bytes]) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _replace_durably(part: Path, dest: Path) -> None:
    """Rename the finished file into place and persist the rename."""
    os.replace(part, dest)
    try:
        dir_fd = os.open(dest.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the data itself is synced
    finally:
        os.close(dir_fd)
