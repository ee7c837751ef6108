"""The pure URL and address checks behind every outside request."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from core.errors import InvalidUrlError
from core.netguard import check_url, has_credentials, is_blocked_ip, parse_ip, redact_url

BLOCKED = [
    "10.0.0.1",  # private
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",  # loopback
    "127.0.0.2",
    "0.0.0.0",  # unspecified
    "0.1.2.3",  # "this network"
    "100.64.0.1",  # carrier-grade NAT
    "100.127.255.254",
    "169.254.169.254",  # cloud metadata
    "169.254.0.1",
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "255.255.255.255",  # broadcast
    "240.0.0.1",  # reserved
    "198.18.0.1",  # benchmarking
    "192.0.2.1",  # documentation
    "::",
    "::1",
    "fe80::1",  # link-local
    "fc00::1",  # unique local
    "fd12:3456::1",
    "ff02::1",  # multicast
    "ff0e::1",  # global-scope multicast is still multicast
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:8.8.8.8",  # the whole mapped range: the kernel would connect over IPv4
    "::10.0.0.1",  # deprecated IPv4-compatible
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::808:808",  # NAT64 of a public address: the whole prefix is refused
    "64:ff9b:1::1",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:808:808::1",
    "2001::1",  # Teredo
    "2001:db8::1",  # documentation
]

ALLOWED = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "151.101.1.69", "2606:4700:4700::1111",
           "2a00:1450:4001:80b::200e"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert is_blocked_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ALLOWED)
def test_public_unicast_addresses_are_allowed(address: str) -> None:
    assert not is_blocked_ip(ipaddress.ip_address(address))


def test_parse_ip_reads_scoped_and_bracketed_ipv6_and_returns_none_for_names() -> None:
    assert parse_ip("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert parse_ip("[::1]") == ipaddress.ip_address("::1")
    assert parse_ip("10.0.0.1") == ipaddress.ip_address("10.0.0.1")
    assert parse_ip("example.com") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/Feed.xml", "http://example.com/Feed.xml"),
        ("  https://example.com/a?b=1#frag  ", "https://example.com/a?b=1"),
        ("http://example.com:80/x", "http://example.com/x"),
        ("https://[2606:4700::1]:8443/x", "https://[2606:4700::1]:8443/x"),
        ("http://bücher.example/ä", "http://xn--bcher-kva.example/%C3%A4"),
    ],
)
def test_check_url_normalises_http_urls(url: str, expected: str) -> None:
    assert check_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "../feeds/x.xml",
        "C:\\feeds\\x.xml",
        "example.com/feed.xml",
        "data:text/xml,<rss/>",
        "ftp://example.com/feed.xml",
        "gopher://example.com/",
        "javascript:alert(1)",
        "http:///nohost",
        "http://",
        "https://:443/x",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "http://example.com/\r\nX-Injected: 1",
        "",
        "   ",
        "http://" + "a" * 9000 + ".com/",
    ],
)
def test_check_url_refuses_anything_but_http_with_a_host(url: str) -> None:
    with pytest.raises(InvalidUrlError):
        check_url(url)


def test_check_url_refusal_is_a_sentence_for_the_user() -> None:
    with pytest.raises(InvalidUrlError, match="Only http:// and https://"):
        check_url("ftp://example.com/x")


def test_check_url_allows_credentials_but_flags_them_without_logging_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="core.netguard"):
        normalised = check_url("https://alice:s3cret@example.com/private.xml")
    assert normalised == "https://alice:s3cret@example.com/private.xml"
    assert has_credentials(normalised)
    assert not has_credentials("https://example.com/public.xml")
    assert "credentials" in caplog.text
    assert "s3cret" not in caplog.text and "alice" not in caplog.text


def test_redact_url_hides_credentials_path_and_query_tokens() -> None:
    shown = redact_url("https://alice:s3cret@feeds.example.com/private/feed.xml?token=abc123")
    assert shown.startswith("https://feeds.example.com/")
    for secret in ("alice", "s3cret", "private", "token", "abc123"):
        assert secret not in shown


def test_redact_url_is_stable_so_log_lines_can_be_matched() -> None:
    a = redact_url("https://example.com/feed?key=1")
    assert a == redact_url("https://example.com/feed?key=1")
    assert a != redact_url("https://example.com/feed?key=2")


def test_redact_url_keeps_a_bare_host_readable_and_shows_a_port() -> None:
    assert redact_url("https://example.com") == "https://example.com/"
    assert redact_url("http://127.0.0.1:8080/x").startswith("http://127.0.0.1:8080/…#")
    assert redact_url("http://[::1]:8080/") == "http://[::1]:8080/"


@pytest.mark.parametrize(
    "junk", ["not a url", "http://exa mple.com/\nFAKE LOG LINE", "", "http://[zz]/"]
)
def test_redact_url_never_echoes_unreadable_input(junk: str) -> None:
    shown = redact_url(junk)
    assert "\n" not in shown
    assert "FAKE" not in shown
    assert shown.startswith("<")
