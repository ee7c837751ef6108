"""Pure checks for outside requests: URLs we fetch, addresses we refuse, log-safe URL forms."""

from __future__ import annotations

import ipaddress
import logging
import re

from yarl import URL

from core.errors import InvalidUrlError
from core.ids import short_hash

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})
_SAFE_HOST = re.compile(r"[a-z0-9._:\-]{1,253}")
_SAFE_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]{0,15}")
MAX_URL_LENGTH = 8192

# Ranges refused on top of `not ip.is_global`: each either reaches our own network, or embeds an
# IPv4 address that a translator or tunnel would forward to (so its v4 part could be private).
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network": connecting to 0.x reaches the local host on Linux
        "100.64.0.0/10",  # carrier-grade NAT, shared with the provider's internal network
        "169.254.0.0/16",  # link-local, including cloud metadata 169.254.169.254
    )
)
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # unspecified, loopback and deprecated IPv4-compatible addresses
        "::ffff:0:0/96",  # IPv4-mapped: the kernel connects to the embedded v4 address
        "64:ff9b::/96",  # NAT64 well-known prefix
        "64:ff9b:1::/48",  # NAT64 local-use prefix
        "2001::/32",  # Teredo tunnels
        "2002::/16",  # 6to4 tunnels
        "fe80::/10",  # link-local
        "fc00::/7",  # unique local (private)
    )
)


def is_blocked_ip(ip: IPAddress) -> bool:
    """True when `ip` is not a public unicast address we may connect to."""
    if (
        not ip.is_global
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
        or ip.is_reserved
    ):
        return True
    if isinstance(ip, ipaddress.IPv4Address):
        return any(ip in net for net in _BLOCKED_V4)
    if any(ip in net for net in _BLOCKED_V6):
        return True
    # Defence in depth: the whole mapped and 6to4 ranges are already refused above, but a
    # future edit to those lists must not let a private embedded v4 address through.
    embedded = ip.ipv4_mapped or ip.sixtofour
    return embedded is not None and is_blocked_ip(embedded)


def parse_ip(host: str) -> IPAddress | None:
    """The address in `host` (IPv6 may carry a %scope or brackets), or None for a name."""
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return None


def check_url(url: str) -> str:
    """The normalised form of an http(s) URL with a host; raises InvalidUrlError otherwise."""
    if not isinstance(url, str):
        raise InvalidUrlError("That is not a web address.")
    text = url.strip()
    if not text:
        raise InvalidUrlError("The web address is empty.")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidUrlError("The web address is too long.")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        # Spaces, tabs, newlines and control bytes smuggle headers or confuse parsers.
        raise InvalidUrlError("The web address contains spaces or control characters.")
    try:
        parsed = URL(text)
        host = parsed.host
        parsed.port  # noqa: B018 - a bad port raises here, not later inside the client
    except (ValueError, TypeError, UnicodeError):
        raise InvalidUrlError("That web address could not be read.") from None
    scheme = (parsed.scheme or "").lower()
    if not scheme:
        raise InvalidUrlError("Only web addresses starting with http:// or https:// can be used.")
    if scheme not in ALLOWED_SCHEMES:
        raise InvalidUrlError(
            f"Only http:// and https:// addresses can be fetched, not {scheme[:16]}: ones."
        )
    if not host or host.strip(".") == "":
        raise InvalidUrlError("The web address has no host name.")
    if parsed.user is not None or parsed.password is not None:
        # Allowed (private feeds use them) but such a URL must never be logged in full.
        log.info("URL carries credentials: %s", redact_url(text))
    return str(parsed.with_fragment(None))


def has_credentials(url: str) -> bool:
    """True when the URL carries a user name or password."""
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError, UnicodeError):
        return False
    return parsed.user is not None or parsed.password is not None


def redact_url(url: str) -> str:
    """A log-safe form: scheme://host[:port]/ plus a short hash of the rest, never secrets."""
    try:
        parsed = URL(str(url).strip())
        scheme, host = parsed.scheme.lower(), parsed.raw_host
        port = parsed.explicit_port
    except (ValueError, TypeError, UnicodeError):
        return f"<unreadable url #{short_hash(str(url))}>"
    if not (scheme and host and _SAFE_SCHEME.fullmatch(scheme) and _SAFE_HOST.fullmatch(host)):
        # Odd characters in a log line could forge entries; show only the hash.
        return f"<not a url #{short_hash(str(url))}>"
    hostport = f"[{host}]" if ":" in host else host
    if port is not None:
        hostport = f"{hostport}:{port}"
    rest = parsed.raw_path_qs
    if rest in ("", "/") and parsed.user is None and parsed.password is None:
        return f"{scheme}://{hostport}/"
    # The hash lets two log lines about the same URL be matched without revealing it.
    return f"{scheme}://{hostport}/…#{short_hash(str(url))}"


# Path segments that are secrets: private feeds put per-listener tokens in the path as often as in
# the query (/episodes/8f3a9c2e1b7d4f6a.rss). Ordinary words, slugs and short numbers stay readable.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX_RUN = re.compile(r"(?<![A-Za-z0-9])[0-9a-fA-F]{16,}(?![A-Za-z0-9])")
_WORDISH_RUN = re.compile(r"[A-Za-z0-9_\-+=%]{20,}")


def mask_path_tokens(url: str) -> str:
    """The URL with token-like path segments (UUIDs, hex >= 16, base64-ish >= 20) shown as ***."""
    head, sep, path = _split_path(url)
    if not sep:
        return url
    path = _UUID.sub("***", path)
    path = _HEX_RUN.sub("***", path)
    return head + sep + _WORDISH_RUN.sub(_mask_if_tokenish, path)


def _split_path(url: str) -> tuple[str, str, str]:
    # scheme://authority | /path...; a URL without a path has nothing to mask.
    scheme, found, rest = url.partition("://")
    if not found:
        return url, "", ""
    authority, sep, path = rest.partition("/")
    return f"{scheme}://{authority}", sep, path


def _mask_if_tokenish(match: re.Match[str]) -> str:
    run = match.group(0)
    lower, upper = any(c.islower() for c in run), any(c.isupper() for c in run)
    digit = any(c.isdigit() for c in run)
    if any(c in "-_" for c in run):
        # A slug ("episode-2024-the-long-recap") is lower case; a url-safe token mixes all three.
        tokenish = lower and upper and digit
    else:
        tokenish = digit and (lower or upper)
    return "***" if tokenish else run
