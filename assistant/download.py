"""Fetch an article's page (or PDF, or Word file) from a URL, refusing what the server should not reach.

http(s) only; every address the host name resolves to, at the first request and at each redirect, must be a public
one: private, loopback, link-local (cloud metadata at 169.254.169.254), shared, reserved and multicast ranges are
refused unless `allow_private` (config `allow_private_urls`; the tests fetch from a local server). The connection
goes to the address that was checked, resolved once for it (`_PublicOnly`), so a name whose DNS answer changes
after a check (DNS rebinding) cannot send the request elsewhere; TLS still verifies the host name. The body is read
up to `max_bytes`, within `timeout` seconds in all (a server that trickles bytes is cut off too). Problems raise
`CorpusError` with one line.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .errors import CorpusError

__all__ = ["Downloaded", "download", "is_url", "MAX_REDIRECTS"]

MAX_REDIRECTS = 5
USER_AGENT = "news-assistant/0.1 (+https://github.com/; fetches one article a user asked for)"
# Content-Type -> the suffix extract.py reads it by
_TYPES = {"text/html": ".html", "application/xhtml+xml": ".html", "text/plain": ".txt", "text/markdown": ".md",
          "application/pdf": ".pdf",
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx"}


@dataclass(frozen=True)
class Downloaded:
    """A fetched page or file: where it came from after redirects, its bytes and its suffix."""

    url: str  # where the body came from, after redirects
    raw: bytes
    suffix: str  # ".html", ".pdf", ...


def is_url(text: str) -> bool:
    """Whether `text` is meant as a web address rather than a file path."""
    return "://" in text[:12] or text.lower().startswith("www.")


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _check_host(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise CorpusError(f"{_short(url)}: only http and https addresses can be added")
    host = parts.hostname
    if not host:
        raise CorpusError(f"{_short(url)}: not a web address (no host name)")
    if not allow_private:
        _public_address(host, parts.port or (443 if parts.scheme == "https" else 80), _short(url))


def _public_address(host: str, port: int, shown: str) -> str:
    """One address of `host`, when every address it resolves to is public (else CorpusError, `shown` naming it)."""
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
    except (OSError, UnicodeError, ValueError) as exc:
        raise CorpusError(f"{shown}: cannot find the host {host} ({exc})") from None
    if not addresses:
        raise CorpusError(f"{shown}: cannot find the host {host}")
    private = [a for a in addresses if not _public(a)]
    if private:
        raise CorpusError(f"{shown}: {host} is a private, local or reserved address ({private[0]}); set "
                          f"allow_private_urls = true to add pages from such servers")
    return addresses[0]


def _transport(httpx, allow_private: bool):
    """httpx's transport; without `allow_private`, one whose connections go only to the public address just checked."""
    if allow_private:
        return httpx.HTTPTransport(trust_env=False)
    import httpcore

    class _PublicOnly(httpcore.SyncBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            address = _public_address(host, port, host)  # resolved once, here: the address connected to
            return super().connect_tcp(address, port, timeout, local_address, socket_options)

    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(trust_env=False),
                                              network_backend=_PublicOnly())
    return transport


def download(url: str, *, allow_private: bool = False, timeout: float = 20.0, max_bytes: int = 5_000_000) -> Downloaded:
    """The body at `url`, following up to MAX_REDIRECTS redirects, each checked as the first."""
    try:
        import httpx
    except ImportError:
        raise CorpusError("adding by URL needs httpx: pip install httpx") from None
    url = url.strip()
    if url.lower().startswith("www."):
        url = "https://" + url
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False,
                      headers={"User-Agent": USER_AGENT}, transport=_transport(httpx, allow_private)) as client:
        for _ in range(MAX_REDIRECTS + 1):
            _check_host(url, allow_private)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise CorpusError(f"{_short(url)}: the server answered {response.status_code} "
                                          f"{response.reason_phrase}")
                    return Downloaded(url, _body(response, url, max_bytes, deadline), _suffix(response, url))
            except httpx.TimeoutException:
                raise CorpusError(f"{_short(url)}: no answer within {timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise CorpusError(f"{_short(url)}: could not be fetched ({type(exc).__name__}: {exc})") from None
    raise CorpusError(f"{_short(url)}: more than {MAX_REDIRECTS} redirects")


def _body(response, url: str, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise CorpusError(f"{_short(url)}: {int(declared) / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit "
                          f"per article (max_article_bytes)")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise CorpusError(f"{_short(url)}: over the {max_bytes / 1e6:g} MB limit per article (max_article_bytes)")
        if time.monotonic() > deadline:
            raise CorpusError(f"{_short(url)}: the server did not send the page in time")
        chunks.append(chunk)
    return b"".join(chunks)


def _suffix(response, url: str) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in _TYPES:
        return _TYPES[kind]
    path = urlsplit(url).path.lower()
    for suffix in (".pdf", ".docx", ".txt", ".md", ".html", ".htm"):
        if path.endswith(suffix):
            return suffix
    raise CorpusError(f"{_short(url)}: a {kind or 'file of no declared type'}, not a web page, PDF, Word or text file")


def _short(url: str) -> str:
    return url if len(url) <= 100 else url[:99] + "…"
