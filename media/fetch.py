"""Fetching media given as a URL, safely: a size limit, a time limit, and no private networks.

Every address the host name resolves to is checked *before* connecting: loopback, private,
link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified addresses
are refused unless the host is explicitly allowed. Redirects are followed by hand, each hop
checked the same way. Residual risk, stated: a DNS answer that changes between the check and
the connection (rebinding) is not pinned.
"""

from __future__ import annotations

import ipaddress
import socket
import tempfile
import time
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import requests

from scheduler.errors import InvalidMedia

MAX_REDIRECTS = 3


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def check_destination(url: str, allowed_hosts: frozenset[str]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidMedia(f"{url}: only http and https URLs can be fetched")
    host = parts.hostname
    if host in allowed_hosts:
        return
    try:
        answers = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except socket.gaierror as exc:
        raise InvalidMedia(f"{url}: cannot resolve {host} ({exc.strerror})") from None
    for answer in answers:
        address = ipaddress.ip_address(answer[4][0])
        if not address.is_global or address.is_multicast:
            raise InvalidMedia(
                f"{url}: {host} resolves to {address}, a loopback, private or link-local address; "
                "fetching from there is refused (allow the host in CROSSPOST_MEDIA_ALLOWED_HOSTS if it is yours)"
            )


def fetch(url: str, folder: Path, *, max_bytes: int, timeout: float, allowed_hosts: frozenset[str]) -> Path:
    """Download ``url`` into ``folder``; InvalidMedia names the URL and the problem."""
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            check_destination(url, allowed_hosts)
            try:
                response = session.get(url, stream=True, allow_redirects=False, timeout=(5.0, timeout))
            except requests.RequestException as exc:
                raise InvalidMedia(f"{url}: could not fetch ({exc.__class__.__name__}: {exc})") from None
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status_code != 200:
                    raise InvalidMedia(f"{url}: the server answered {response.status_code}")
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > max_bytes:
                    raise InvalidMedia(f"{url}: {declared} bytes is over the limit of {max_bytes} bytes")
                return _save(response, url, folder, max_bytes, deadline)
    raise InvalidMedia(f"{url}: more than {MAX_REDIRECTS} redirects")


def _save(response: requests.Response, url: str, folder: Path, max_bytes: int, deadline: float) -> Path:
    name = PurePosixPath(urlsplit(url).path).name or "download"
    folder.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(dir=folder)) / name
    received = 0
    try:
        with target.open("wb") as out:
            for chunk in response.iter_content(64 * 1024):
                received += len(chunk)
                if received > max_bytes:
                    raise InvalidMedia(f"{url}: more than {max_bytes} bytes; refused")
                if time.monotonic() > deadline:
                    raise InvalidMedia(f"{url}: the download took too long; refused")
                out.write(chunk)
    except requests.RequestException as exc:
        target.unlink(missing_ok=True)
        raise InvalidMedia(f"{url}: the download failed ({exc})") from None
    except InvalidMedia:
        target.unlink(missing_ok=True)
        raise
    return target
