"""Fetching media given as a URL, safely: a size limit, one time limit, and no private networks.

* **One wall-clock deadline** covers the whole download: resolving the name, connecting, the TLS
  handshake, the headers and the body. Every socket operation waits at most for what is left, and
  a watchdog shuts the connection when the deadline passes, so a server that sends one byte at a
  time (in the headers or the body) cannot hold the download past it.
* **Every address** the host name resolves to is checked *before* connecting: loopback, private,
  link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses are
  refused, and so is an IPv6 address that carries one of them as an embedded IPv4 address
  (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4
  ``2002::/16``, Teredo), unless the host is explicitly allowed. The connection then goes to an
  address that was checked: the name is not looked up a second time, so an answer that changes
  between the check and the connection (DNS rebinding) is not followed. Proxies from the
  environment are not used.
* Redirects are followed by hand, each hop checked the same way.
* A malformed URL (a bad port, an unclosed ``[``), a malformed answer (``Content-Length: abc``, a
  broken status line) and a name that cannot be a file name (``/..``, 300 characters) are refused
  in one line (InvalidMedia) or made safe; the download's temporary folder is removed on every path
  that does not return the file.

The content is saved as sent: ``Accept-Encoding: identity`` is asked for and nothing is
decompressed, so the size limit counts the bytes on the wire (no decompression bomb).
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from requests.utils import DEFAULT_CA_BUNDLE_PATH

from scheduler.errors import InvalidMedia
from scheduler.redaction import redact_url

MAX_REDIRECTS = 3
CHUNK = 64 * 1024
MAX_NAME = 60  # characters of the file name kept (a name's bytes must stay under the file system's 255)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
USER_AGENT = "crosspost (media fetch)"

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the last 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local use, never fetched from
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_HOST = re.compile(r"^[a-z0-9_.-]+$")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def fetch(url: str, folder: Path, *, max_bytes: int, timeout: float, allowed_hosts: frozenset[str]) -> Path:
    """Download ``url`` into a new folder inside ``folder``; InvalidMedia names the URL (its
    secrets masked) and the problem. The caller removes the returned file's folder when done."""
    deadline = _Deadline(timeout)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=folder))
    try:
        return _download(url, workdir, deadline, max_bytes, frozenset(h.lower() for h in allowed_hosts))
    except _TooLong:
        shutil.rmtree(workdir, ignore_errors=True)
        raise InvalidMedia(
            f"{redact_url(url)}: the download took too long (over the limit of {timeout:g} s); refused"
        ) from None
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise


class _TooLong(Exception):
    """The deadline passed."""


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise _TooLong
        return left


@dataclass(frozen=True)
class _Target:
    url: str
    shown: str  # the URL as errors show it
    scheme: str
    host: str  # lower case, IDNA-encoded
    port: int
    path: str  # path and query, as sent


def _parse(url: str) -> _Target:
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # an unclosed [, a port that is no number or over 65535
        raise InvalidMedia(f"{shown}: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidMedia(f"{shown}: only http and https URLs can be fetched")
    if port == 0:
        raise InvalidMedia(f"{shown}: not a valid URL (port 0)")
    if ":" not in host:  # an IPv6 literal was checked by urlsplit
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidMedia(f"{shown}: {host!r} is not a valid host name") from None
        if not _HOST.match(host):
            raise InvalidMedia(f"{shown}: {host!r} is not a valid host name")
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
    return _Target(url, shown, parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def _download(url: str, workdir: Path, deadline: _Deadline, max_bytes: int, allowed_hosts: frozenset[str]) -> Path:
    for _ in range(MAX_REDIRECTS + 1):
        target = _parse(url)
        addresses = _checked_addresses(target, allowed_hosts, deadline)
        with _Connection(target, addresses, deadline) as connection:
            response = connection.get()
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise InvalidMedia(f"{target.shown}: the server answered {response.status} without a Location")
                url = urljoin(url, location.strip())
                continue
            if response.status != 200:
                raise InvalidMedia(f"{target.shown}: the server answered {response.status}")
            declared = _declared_length(response, target)
            if declared is not None and declared > max_bytes:
                raise InvalidMedia(f"{target.shown}: {declared} bytes is over the limit of {max_bytes} bytes")
            return connection.save(response, workdir / _file_name(url), max_bytes, declared)
    raise InvalidMedia(f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects")


# -- addresses --------------------------------------------------------------------------------------


def embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-mapped, IPv4-compatible, NAT64 (the
    well-known prefix), 6to4 and Teredo (its server and its client)."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def refusal(address: Address) -> str | None:
    """Why an address may not be fetched from, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address) and address in _NAT64_LOCAL:
        return f"{address}, a local-use NAT64 address"
    for candidate in (address, *embedded_ipv4(address)):
        if not candidate.is_global or candidate.is_multicast:
            inside = f" (which carries {candidate})" if candidate is not address else ""
            return f"{address}{inside}, a loopback, private or link-local address"
    return None


def _checked_addresses(
    target: _Target, allowed_hosts: frozenset[str], deadline: _Deadline
) -> list[tuple[socket.AddressFamily, Any]]:
    answers = _resolve(target, deadline)
    if target.host not in allowed_hosts:
        for _family, _type, _proto, _name, sockaddr in answers:
            reason = refusal(ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]))
            if reason:
                raise InvalidMedia(
                    f"{target.shown}: {target.host} resolves to {reason}; fetching from there is refused "
                    "(allow the host in CROSSPOST_MEDIA_ALLOWED_HOSTS if it is yours)"
                )
    return [(family, sockaddr) for family, _type, _proto, _name, sockaddr in answers]


def _resolve(target: _Target, deadline: _Deadline) -> list[Any]:
    """getaddrinfo within the deadline (it cannot be interrupted: a slow resolver is left to
    finish in a daemon thread)."""
    answers: list[Any] = []
    failed: list[BaseException] = []

    def look_up() -> None:
        try:
            answers.extend(socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            failed.append(exc)

    thread = threading.Thread(target=look_up, name="crosspost-resolve", daemon=True)
    thread.start()
    thread.join(deadline.remaining())
    if thread.is_alive():
        raise _TooLong
    if failed or not answers:
        reason = (getattr(failed[0], "strerror", None) or str(failed[0])) if failed else "no address"
        raise InvalidMedia(f"{target.shown}: cannot resolve {target.host} ({reason})")
    return answers


# -- the connection ---------------------------------------------------------------------------------


class _Connection:
    """One HTTP(S) exchange with a checked address, under the deadline: a watchdog shuts the
    socket when it passes, which ends any read or handshake waiting on it."""

    def __init__(self, target: _Target, addresses: list[tuple[socket.AddressFamily, Any]], deadline: _Deadline) -> None:
        self.target, self.addresses, self.deadline = target, addresses, deadline
        self.sock: socket.socket | None = None
        self.expired = threading.Event()
        self.lock = threading.Lock()
        self.http: http.client.HTTPConnection | None = None
        self.watchdog = threading.Timer(max(0.0, deadline.at - time.monotonic()), self._expire)
        self.watchdog.daemon = True

    def __enter__(self) -> _Connection:
        self.watchdog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.watchdog.cancel()
        if self.http is not None:
            self.http.close()
        with self.lock:
            if self.sock is not None:
                self.sock.close()

    def _expire(self) -> None:
        self.expired.set()
        with self.lock, suppress(OSError):
            if self.sock is not None:
                self.sock.shutdown(socket.SHUT_RDWR)

    def _watch(self, sock: socket.socket) -> None:
        with self.lock:
            self.sock = sock
        if self.expired.is_set():
            raise _TooLong

    def _timed(self) -> float:
        left = self.deadline.remaining()
        if self.sock is not None:
            self.sock.settimeout(left)
        return left

    def connect(self) -> socket.socket:
        failure: OSError | None = None
        for family, sockaddr in self.addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            self._watch(sock)
            try:
                sock.settimeout(self.deadline.remaining())
                sock.connect(sockaddr)
                break
            except OSError as exc:
                sock.close()
                failure = exc
        else:
            raise failure or OSError("no address to connect to")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.target.scheme == "https":
            wrapped = _tls().wrap_socket(sock, server_hostname=self.target.host, do_handshake_on_connect=False)
            self._watch(wrapped)
            wrapped.settimeout(self.deadline.remaining())
            wrapped.do_handshake()
            return wrapped
        return sock

    def get(self) -> http.client.HTTPResponse:
        connection = _PinnedHTTP(self, self.target.host, self.target.port, timeout=self.deadline.remaining())
        self.http = connection
        try:
            connection.putrequest("GET", self.target.path, skip_accept_encoding=True)
            connection.putheader("Accept-Encoding", "identity")
            connection.putheader("User-Agent", USER_AGENT)
            connection.putheader("Accept", "image/*, video/*, */*;q=0.5")
            connection.endheaders()
            self._timed()
            return connection.getresponse()
        except Exception as exc:
            raise self._failure(exc, "could not fetch") from None

    def save(self, response: http.client.HTTPResponse, target: Path, max_bytes: int, declared: int | None) -> Path:
        received = 0
        try:
            with target.open("xb") as out:
                while True:
                    self._timed()
                    chunk = response.read1(CHUNK)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > max_bytes:
                        raise InvalidMedia(f"{self.target.shown}: more than {max_bytes} bytes; refused")
                    out.write(chunk)
        except (InvalidMedia, _TooLong):
            raise
        except Exception as exc:
            raise self._failure(exc, "the download failed") from None
        if self.expired.is_set():
            raise _TooLong  # the watchdog's shutdown reads as the end of the body: it is not
        if declared is not None and received < declared:
            raise InvalidMedia(f"{self.target.shown}: the download ended after {received} of {declared} bytes")
        return target

    def _failure(self, exc: Exception, what: str) -> Exception:
        if self.expired.is_set() or isinstance(exc, _TooLong):
            return _TooLong()
        if isinstance(exc, socket.timeout | TimeoutError) and self.deadline.at <= time.monotonic():
            return _TooLong()
        if isinstance(exc, InvalidMedia):
            return exc
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        return InvalidMedia(f"{self.target.shown}: {what} ({exc.__class__.__name__}{': ' + detail if detail else ''})")


class _PinnedHTTP(http.client.HTTPConnection):
    """http.client, connected by ``_Connection`` (to a checked address, TLS included)."""

    def __init__(self, owner: _Connection, host: str, port: int, *, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.owner = owner
        self.default_port = 443 if owner.target.scheme == "https" else 80  # the Host header names no default port

    def connect(self) -> None:
        self.sock = self.owner.connect()


_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """Certificates are verified against the system's authorities and Mozilla's (as requests does)."""
    global _context
    if _context is None:
        context = ssl.create_default_context()
        with suppress(OSError):
            context.load_verify_locations(cafile=DEFAULT_CA_BUNDLE_PATH)
        _context = context
    return _context


# -- answers and names ------------------------------------------------------------------------------


def _declared_length(response: http.client.HTTPResponse, target: _Target) -> int | None:
    values = response.headers.get_all("Content-Length") or []
    if not values:
        return None
    lengths = {value.strip() for joined in values for value in joined.split(",")}
    if len(lengths) != 1 or not all(value.isascii() and value.isdigit() for value in lengths):
        shown = ", ".join(sorted(lengths))[:60]
        raise InvalidMedia(f"{target.shown}: the server sent an invalid Content-Length ({shown!r}); refused")
    return int(lengths.pop())


def _file_name(url: str) -> str:
    """A safe file name from the URL's last path segment: no separators, dots or control
    characters at the ends, at most MAX_NAME characters (the extension kept), "download" if
    nothing is left (``/..``, ``/``)."""
    try:
        segment = unquote(PurePosixPath(urlsplit(url).path).name)
    except ValueError:
        segment = ""
    name = re.sub(r"[^\w.\-]+", "_", segment).strip("._-")
    if len(name) > MAX_NAME:
        suffix = PurePosixPath(name).suffix[:12]
        name = name[: MAX_NAME - len(suffix)].rstrip("._-") + suffix
    return name or "download"
