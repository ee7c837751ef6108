"""SafeFetcher against real aiohttp servers on 127.0.0.1: guard, redirects, caps, timeouts."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import ipaddress
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from core.adapters.http import SafeFetcher, parse_retry_after
from core.config import HttpSettings
from core.errors import (
    BlockedAddressError,
    FetchError,
    FetchTimeoutError,
    HttpStatusError,
    InvalidUrlError,
    ResponseTooLargeError,
)
from core.netguard import IPAddress
from tests.fakes.http_server import http_server, serve_app, serve_raw  # noqa: F401 - fixture

SETTINGS = HttpSettings(
    connect_timeout_s=2.0,
    total_timeout_s=1.5,
    read_timeout_s=5.0,  # above the total, so a slow drip can only be stopped by the total
    download_timeout_s=5.0,
    max_redirects=5,
    user_agent="Castfive-test/1 (+https://example.invalid)",
)
BOMB_INFLATED = 8 * 1024 * 1024
BOMB = gzip.compress(b"\0" * BOMB_INFLATED)  # about 8 KiB on the wire


def only_127_0_0_1(ip: IPAddress) -> bool:
    """The test policy: our own server's address and nothing else (not 127.0.0.2, not ::1)."""
    return ip == ipaddress.ip_address("127.0.0.1")


class MapResolver(AbstractResolver):
    """Resolves names from a table: the test seam for names that point at blocked addresses."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.table:
            raise OSError(socket.EAI_NONAME, f"unknown test host {host}")
        return [
            ResolveResult(
                hostname=host, host=ip, port=port, proto=0, flags=0,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
            )
            for ip in self.table[host]
        ]

    async def close(self) -> None:
        pass


NAMES = {
    "metadata.test": ["169.254.169.254"],
    "intranet.test": ["10.1.2.3"],
    "loopback6.test": ["::1"],
    "mapped.test": ["::ffff:192.168.0.1"],
    "several.test": ["10.0.0.7", "fe80::7", "192.168.3.3"],
    "ours.test": ["127.0.0.1"],  # a second origin for the same allowed server
}


@pytest.fixture(autouse=True)
async def connects() -> AsyncIterator[list[object]]:
    """Every address the event loop is asked to connect a socket to, during this test.

    Also a safety net: should the guard ever regress, these tests still send nothing beyond
    127.0.0.1 and 127.0.0.2 (the refusal shows up as a failed test, not as traffic).
    """
    loop = asyncio.get_running_loop()
    seen: list[object] = []
    real = loop.sock_connect

    async def spy(sock: socket.socket, address: tuple[str, int]) -> None:
        seen.append(address)
        if address[0] not in ("127.0.0.1", "127.0.0.2"):
            raise ConnectionRefusedError(f"test safety net: no traffic to {address[0]}")
        await real(sock, address)

    loop.sock_connect = spy  # type: ignore[method-assign,assignment]
    yield seen
    del loop.sock_connect  # back to the class's method


def fetcher_with(settings: HttpSettings = SETTINGS) -> SafeFetcher:
    """A fetcher that may reach only 127.0.0.1, resolving the test names in NAMES."""
    return SafeFetcher(settings, address_policy=only_127_0_0_1, resolver=MapResolver(NAMES))


@pytest.fixture
async def fetcher() -> AsyncIterator[SafeFetcher]:
    async with fetcher_with() as f:
        yield f


# --- the test server -----------------------------------------------------------------------


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="hello", content_type="text/plain")


async def echo_headers(request: web.Request) -> web.Response:
    return web.json_response({k.lower(): v for k, v in request.headers.items()})


async def sized(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * int(request.query["n"]))


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    return web.Response(status=code, body=b"" if code == 304 else b"status body",
                        headers={"Retry-After": "120"})


async def bomb(request: web.Request) -> web.Response:
    return web.Response(body=BOMB, headers={"Content-Encoding": "gzip"})


async def chunked(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for _ in range(int(request.query["chunks"])):
        await resp.write(b"y" * 10_000)
    await resp.write_eof()
    return resp


async def drip(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": "100"})
    await resp.prepare(request)
    for _ in range(100):
        await resp.write(b"z")
        await asyncio.sleep(float(request.query.get("every", "1.0")))
    return resp


async def stall(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Length": "1000"})
    await resp.prepare(request)
    await resp.write(b"s" * 10)
    await asyncio.sleep(30)
    return resp


async def redirect(request: web.Request) -> web.Response:
    """/r/{codes}: follow the comma-separated status codes one hop each, then answer."""
    codes = request.match_info["codes"]
    if codes == "end":
        return web.Response(text="arrived")
    first, _, rest = codes.partition(",")
    return web.Response(status=int(first), headers={"Location": f"/r/{rest or 'end'}"})


async def to(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": request.query["u"]})


async def loop_a(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/loop-b"})


async def loop_b(request: web.Request) -> web.Response:
    return web.Response(status=302, headers={"Location": "/loop-a"})


async def endless(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    return web.Response(status=307, headers={"Location": f"/endless/{n + 1}"})


ROUTES = {
    "/ok": ok, "/headers": echo_headers, "/sized": sized, "/status/{code}": status,
    "/bomb": bomb, "/chunked": chunked, "/drip": drip, "/stall": stall, "/r/{codes}": redirect,
    "/to": to, "/loop-a": loop_a, "/loop-b": loop_b, "/endless/{n}": endless,
}


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with serve_app(ROUTES) as url:
        yield url


# --- happy path and results ------------------------------------------------------------------


async def test_get_returns_body_status_and_headers(fetcher: SafeFetcher, base: str) -> None:
    result = await fetcher.get(f"{base}/ok")
    assert (result.status, result.body, result.url) == (200, b"hello", f"{base}/ok")
    assert result.headers["content-type"].startswith("text/plain")
    assert result.permanent_url is None


async def test_every_request_carries_our_user_agent_even_if_a_caller_sets_another(
    fetcher: SafeFetcher, base: str
) -> None:
    result = await fetcher.get(f"{base}/headers", headers={"User-Agent": "spoof", "X-A": "1"})
    sent = json.loads(result.body)
    assert sent["user-agent"] == SETTINGS.user_agent
    assert sent["x-a"] == "1"


@pytest.mark.parametrize("code", [304, 404, 410, 500, 503])
async def test_not_modified_and_error_statuses_come_back_as_results(
    fetcher: SafeFetcher, base: str, code: int
) -> None:
    result = await fetcher.get(f"{base}/status/{code}")
    assert result.status == code


async def test_the_operator_switch_lets_the_default_policy_reach_loopback(base: str) -> None:
    settings = dataclasses.replace(SETTINGS, allow_private_addresses=True)
    async with SafeFetcher(settings) as f:
        assert (await f.get(f"{base}/ok")).body == b"hello"


async def test_get_starts_the_session_lazily_and_close_can_be_called_twice(base: str) -> None:
    f = fetcher_with()
    assert (await f.get(f"{base}/ok")).status == 200
    await f.close()
    await f.close()


# --- the address guard -----------------------------------------------------------------------

BLOCKED_LITERALS = [
    "10.0.0.1", "172.16.0.1", "192.168.1.1", "127.0.0.2", "0.0.0.0", "100.64.0.1",
    "169.254.169.254", "224.0.0.1", "255.255.255.255", "[::1]", "[::]", "[fe80::1]", "[fc00::1]",
    "[ff02::1]", "[::ffff:10.0.0.1]", "[::ffff:127.0.0.1]", "[64:ff9b::a00:1]", "[2002:a00:1::1]",
]


@pytest.mark.parametrize("host", BLOCKED_LITERALS)
async def test_literal_non_public_ips_are_refused_before_any_connect(
    connects: list[object], host: str
) -> None:
    async with SafeFetcher(SETTINGS) as f:  # the production policy
        with pytest.raises(BlockedAddressError, match="private or local network"):
            await f.get(f"http://{host}:8080/latest/meta-data?token=SECRET")
    assert connects == []


async def test_the_default_policy_refuses_our_own_loopback_server(
    connects: list[object], base: str
) -> None:
    async with SafeFetcher(SETTINGS) as f:
        with pytest.raises(BlockedAddressError):
            await f.get(f"{base}/ok")
    assert connects == []


@pytest.mark.parametrize("name", ["metadata.test", "intranet.test", "loopback6.test",
                                  "mapped.test", "several.test"])
async def test_names_resolving_to_non_public_addresses_are_refused(
    fetcher: SafeFetcher, connects: list[object], name: str
) -> None:
    with pytest.raises(BlockedAddressError):
        await fetcher.get(f"http://{name}/feed.xml")
    assert connects == []


async def test_a_name_resolving_to_an_allowed_address_is_fetched(
    fetcher: SafeFetcher, base: str
) -> None:
    port = base.rsplit(":", 1)[1]
    assert (await fetcher.get(f"http://ours.test:{port}/ok")).body == b"hello"


async def test_a_redirect_to_another_loopback_address_is_refused_and_never_reached(
    fetcher: SafeFetcher, connects: list[object], base: str
) -> None:
    reached: list[bool] = []

    async def sentinel(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reached.append(True)

    async with serve_raw(sentinel, host="127.0.0.2") as other:
        with pytest.raises(BlockedAddressError):
            await fetcher.get(f"{base}/to?u={other}/admin")
    assert reached == []
    assert all(addr[0] == "127.0.0.1" for addr in connects)  # type: ignore[index]


async def test_a_redirect_to_a_name_for_the_metadata_service_is_refused(
    fetcher: SafeFetcher, connects: list[object], base: str
) -> None:
    with pytest.raises(BlockedAddressError):
        await fetcher.get(f"{base}/to?u=http://metadata.test/latest/meta-data/")
    assert all(addr[0] == "127.0.0.1" for addr in connects)  # type: ignore[index]


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x/",
                                    "data:text/plain,hi"])
async def test_a_redirect_to_a_non_http_scheme_is_refused(
    fetcher: SafeFetcher, base: str, target: str
) -> None:
    with pytest.raises(InvalidUrlError):
        await fetcher.get(f"{base}/to?u={target}")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/etc/passwd", "feeds/x.xml",
                                 "ftp://example.com/x"])
async def test_non_http_urls_are_refused_without_a_request(
    fetcher: SafeFetcher, connects: list[object], url: str
) -> None:
    with pytest.raises(InvalidUrlError):
        await fetcher.get(url)
    with pytest.raises(InvalidUrlError):
        await fetcher.download(url, Path("/nonexistent/never"), max_bytes=10)
    assert connects == []


async def test_error_messages_never_carry_the_query_token_or_credentials() -> None:
    async with SafeFetcher(SETTINGS) as f:
        with pytest.raises(BlockedAddressError) as caught:
            await f.get("http://bob:pa55@10.9.9.9/hidden-path/feed?token=SECRET123")
    text = str(caught.value)
    for secret in ("SECRET123", "pa55", "bob", "hidden-path"):
        assert secret not in text


# --- redirects -------------------------------------------------------------------------------


async def test_a_chain_of_permanent_redirects_sets_permanent_url(
    fetcher: SafeFetcher, base: str
) -> None:
    result = await fetcher.get(f"{base}/r/301,308,301")
    assert result.body == b"arrived"
    assert result.url == result.permanent_url == f"{base}/r/end"


async def test_one_temporary_hop_means_no_permanent_url(fetcher: SafeFetcher, base: str) -> None:
    result = await fetcher.get(f"{base}/r/301,302,301")
    assert result.body == b"arrived" and result.url == f"{base}/r/end"
    assert result.permanent_url is None


async def test_five_redirects_are_followed_and_six_are_refused(
    fetcher: SafeFetcher, base: str
) -> None:
    assert (await fetcher.get(f"{base}/r/302,302,302,302,302")).body == b"arrived"
    with pytest.raises(FetchError, match="more than 5"):
        await fetcher.get(f"{base}/r/302,302,302,302,302,302")
    with pytest.raises(FetchError, match="more than 5"):
        await fetcher.get(f"{base}/endless/0")


async def test_a_redirect_loop_is_reported_as_a_loop(fetcher: SafeFetcher, base: str) -> None:
    with pytest.raises(FetchError, match="loop"):
        await fetcher.get(f"{base}/loop-a")


async def test_authorization_is_not_forwarded_to_another_origin(
    fetcher: SafeFetcher, base: str
) -> None:
    port = base.rsplit(":", 1)[1]
    result = await fetcher.get(
        f"{base}/to?u=http://ours.test:{port}/headers",
        headers={"Authorization": "Bearer t0ken", "If-None-Match": '"v1"'},
    )
    sent = json.loads(result.body)
    assert "authorization" not in sent
    assert sent["if-none-match"] == '"v1"'


# --- size caps -------------------------------------------------------------------------------


async def test_a_body_over_the_cap_is_refused_by_its_content_length(
    fetcher: SafeFetcher, base: str
) -> None:
    assert len((await fetcher.get(f"{base}/sized?n=1000", max_bytes=1000)).body) == 1000
    with pytest.raises(ResponseTooLargeError):
        await fetcher.get(f"{base}/sized?n=1001", max_bytes=1000)


async def test_a_declared_length_over_the_cap_is_refused_before_reading_the_body(
    fetcher: SafeFetcher, tmp_path: Path
) -> None:
    async def huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\n0123456789")
        await writer.drain()
        await asyncio.sleep(30)  # the rest never comes: only the header can end this early

    async with serve_raw(huge) as url:
        with pytest.raises(ResponseTooLargeError):
            await fetcher.get(f"{url}/feed", max_bytes=1000)
        with pytest.raises(ResponseTooLargeError):
            await fetcher.download(f"{url}/a.mp3", tmp_path / "a.mp3", max_bytes=1000)
    assert list(tmp_path.iterdir()) == []


async def test_a_gzip_bomb_is_capped_after_decompression(fetcher: SafeFetcher, base: str) -> None:
    assert len(BOMB) < 64 * 1024
    with pytest.raises(ResponseTooLargeError):
        await fetcher.get(f"{base}/bomb", max_bytes=1024 * 1024)
    assert len((await fetcher.get(f"{base}/bomb", max_bytes=BOMB_INFLATED)).body) == BOMB_INFLATED


async def test_a_chunked_body_without_length_is_capped_while_reading(
    fetcher: SafeFetcher, base: str
) -> None:
    with pytest.raises(ResponseTooLargeError):
        await fetcher.get(f"{base}/chunked?chunks=50", max_bytes=100_000)


async def test_without_max_bytes_the_larger_text_cap_applies(base: str) -> None:
    settings = dataclasses.replace(SETTINGS, feed_max_bytes=500, transcript_max_bytes=800)
    async with fetcher_with(settings) as f:
        assert len((await f.get(f"{base}/sized?n=800")).body) == 800
        with pytest.raises(ResponseTooLargeError):
            await f.get(f"{base}/sized?n=801")


# --- slow and broken servers -----------------------------------------------------------------


async def test_a_server_dripping_one_byte_a_second_hits_the_total_timeout(
    fetcher: SafeFetcher, base: str
) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(FetchTimeoutError, match="did not finish"):
        await fetcher.get(f"{base}/drip?every=1.0")
    assert asyncio.get_running_loop().time() - started < SETTINGS.total_timeout_s + 1.0


async def test_a_connection_closed_mid_body_is_a_fetch_error(fetcher: SafeFetcher) -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"a" * 10)
        await writer.drain()

    async with serve_raw(cut) as url:
        with pytest.raises(FetchError, match="before the whole body"):
            await fetcher.get(f"{url}/feed")


async def test_a_connection_closed_without_an_answer_is_a_fetch_error(
    fetcher: SafeFetcher,
) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")

    async with serve_raw(hang_up) as url:
        with pytest.raises(FetchError, match="without answering"):
            await fetcher.get(f"{url}/feed")


async def test_a_garbage_response_is_a_fetch_error(fetcher: SafeFetcher) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 not http at all\r\n\r\n")
        await writer.drain()

    async with serve_raw(garbage) as url:
        with pytest.raises(FetchError, match="invalid HTTP response"):
            await fetcher.get(f"{url}/feed")


async def test_a_closed_port_is_a_fetch_error(fetcher: SafeFetcher) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connection refused
        with pytest.raises(FetchError, match="Could not connect"):
            await fetcher.get(f"http://127.0.0.1:{port}/")


async def test_https_to_a_server_that_does_not_speak_tls_is_a_fetch_error(
    fetcher: SafeFetcher, base: str
) -> None:
    with pytest.raises(FetchError, match="secure"):
        await fetcher.get(base.replace("http://", "https://") + "/ok")


async def test_concurrent_requests_are_bounded_by_the_setting(http_server) -> None:  # noqa: F811
    in_flight = peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.15)
        in_flight -= 1
        return web.Response(text="ok")

    settings = dataclasses.replace(SETTINGS, max_concurrent_fetches=2)
    url = await http_server({"/slow": slow})
    async with fetcher_with(settings) as f:
        results = await asyncio.gather(*(f.get(f"{url}/slow") for _ in range(6)))
    assert [r.status for r in results] == [200] * 6
    assert peak == 2


# --- download ----------------------------------------------------------------------------------


async def test_download_streams_to_dest_and_leaves_no_part_file(
    fetcher: SafeFetcher, base: str, tmp_path: Path
) -> None:
    dest = tmp_path / "audio" / "episode.mp3"
    result = await fetcher.download(f"{base}/r/302,end", dest, max_bytes=10)
    assert result.path == dest and dest.read_bytes() == b"arrived" and result.size == 7
    assert result.url == f"{base}/r/end"
    assert result.content_type == "text/plain"
    assert list(dest.parent.iterdir()) == [dest]


async def test_download_of_a_large_chunked_body_writes_every_byte(
    fetcher: SafeFetcher, base: str, tmp_path: Path
) -> None:
    dest = tmp_path / "big.bin"
    result = await fetcher.download(f"{base}/chunked?chunks=300", dest, max_bytes=3_000_000)
    assert result.size == 3_000_000 == dest.stat().st_size


@pytest.mark.parametrize(
    ("path", "cap"),
    [
        ("/sized?n=5000", 4999),  # an honest Content-Length over the cap
        ("/bomb", 1024 * 1024),  # a small Content-Length that lies about the decoded size
        ("/chunked?chunks=20", 150_000),  # no Content-Length at all
    ],
)
async def test_download_over_the_cap_leaves_neither_part_nor_dest(
    fetcher: SafeFetcher, base: str, tmp_path: Path, path: str, cap: int
) -> None:
    dest = tmp_path / "episode.mp3"
    with pytest.raises(ResponseTooLargeError):
        await fetcher.download(f"{base}{path}", dest, max_bytes=cap)
    assert list(tmp_path.iterdir()) == []


async def test_download_from_a_stalled_server_times_out_and_cleans_up(
    base: str, tmp_path: Path
) -> None:
    settings = dataclasses.replace(SETTINGS, read_timeout_s=0.5, download_timeout_s=30.0)
    dest = tmp_path / "episode.mp3"
    async with fetcher_with(settings) as f:
        with pytest.raises(FetchTimeoutError, match="stopped sending"):
            await f.download(f"{base}/stall", dest, max_bytes=10_000)
    assert list(tmp_path.iterdir()) == []


async def test_download_of_an_error_status_raises_with_retry_after(
    fetcher: SafeFetcher, base: str, tmp_path: Path
) -> None:
    with pytest.raises(HttpStatusError) as caught:
        await fetcher.download(f"{base}/status/503", tmp_path / "x.mp3", max_bytes=100)
    assert caught.value.status == 503 and caught.value.retry_after == 120.0
    assert list(tmp_path.iterdir()) == []


async def test_download_to_a_redirected_private_address_is_refused(
    fetcher: SafeFetcher, base: str, tmp_path: Path
) -> None:
    with pytest.raises(BlockedAddressError):
        await fetcher.download(f"{base}/to?u=http://intranet.test/a.mp3", tmp_path / "a.mp3",
                               max_bytes=100)
    assert list(tmp_path.iterdir()) == []


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import datetime

    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:01:00 GMT", now) == 60.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
