"""The one place adapters talk HTTP: timeouts, user agent, and translation of transport errors."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import requests

from adapters.errors import OutcomeUnknown, Retryable

USER_AGENT = "crosspost/0.1 (+https://github.com/crosspost)"


_local = threading.local()


def shared_session() -> requests.Session:
    """This thread's session: connections are kept alive across publishes, never shared across threads."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        _local.session = session
    return session


@contextmanager
def translate_transport_errors(what: str) -> Iterator[None]:
    """Map transport failures to the adapter error tree.

    A failure to connect means nothing was sent: retryable. A timeout or a dropped connection
    after the request went out may or may not have created the post: unknown.
    """
    try:
        yield
    except requests.ConnectTimeout as exc:
        raise Retryable(f"{what}: could not connect in time ({exc})") from exc
    except requests.ConnectionError as exc:
        if _never_connected(exc):
            raise Retryable(f"{what}: could not connect ({exc})") from exc
        raise OutcomeUnknown(f"{what}: connection lost after the request was sent ({exc})") from exc
    except requests.Timeout as exc:
        raise OutcomeUnknown(f"{what}: no answer in time after the request was sent ({exc})") from exc
    except requests.RequestException as exc:
        raise OutcomeUnknown(f"{what}: {exc}") from exc


def _never_connected(exc: requests.ConnectionError) -> bool:
    text = repr(exc)
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "Connection refused",
            "Name or service not known",
            "NameResolution",
        )
    )


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Read a Retry-After header: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    return max(0.0, (moment - current).total_seconds())
