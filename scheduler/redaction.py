"""Redaction: the one function that hides secrets in text meant for people, logs and the event log.

``redact(text)`` is applied wherever text leaves crosspost's hands or is kept for ever: ``crosspost
config``, channel views, CLI errors, log records, ``last_error`` and the append-only event log
(``scheduler.publishing.transitions`` redacts every message it writes, so no caller can forget). It hides:

* the userinfo of every URL (``https://user:pass@host`` -> ``https://user:********@host``, a bare
  ``https://TOKEN@host`` -> ``https://********@host``);
* the value of every query parameter or ``key=value`` / ``"key": "value"`` pair whose name looks
  like a secret (``password``, ``token``, ``access_token``, ``api_key``, ``signature``, ...);
* ``Bearer`` and ``Basic`` authorization values;
* every secret this process has decrypted (``remember``): a channel's tokens, its webhook URL and
  that URL's path, which is often the secret itself (``/services/T0/B0/XXXX``) and which HTTP
  libraries quote without the host.

Redaction is best effort for text it cannot recognise; the secrets crosspost knows are never
written in the clear. Only the standard library is used: every layer may import this module.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

MASK = "********"

# words that make a field, parameter or setting name a secret (matched against its parts:
# ``access_token`` -> access, token; ``X-Amz-Signature`` -> x, amz, signature)
_SECRET_WORDS = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "bearer",
        "cookie",
        "credential",
        "credentials",
        "jwt",
        "key",
        "pass",
        "passphrase",
        "passwd",
        "password",
        "private",
        "pwd",
        "secret",
        "session",
        "sessionid",
        "sig",
        "signature",
        "token",
    }
)
_SECRET_PARTS = ("password", "secret", "token", "apikey")  # also inside a word: "clientsecret"
_WORD = re.compile(r"[a-z0-9]+")

_SCHEME_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s'\"<>`]+")
# name=value in a query string, a fragment or free text
_PAIR = re.compile(r"(?P<name>[A-Za-z0-9_.\-\[\]]+)(?P<sep>=)(?P<value>[^&#;\s'\"<>,)}\]]+)")
# "name": "value" or 'name': 'value' (JSON, Python reprs)
_QUOTED_PAIR = re.compile(
    r"(?P<q>[\"'])(?P<name>[A-Za-z0-9_.\-]+)(?P=q)(?P<sep>\s*:\s*)(?P<vq>[\"'])(?P<value>[^\"']*)(?P=vq)"
)
# an Authorization value: the scheme as HTTP writes it, then something token-like (a digit in it)
_AUTH_HEADER = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Token|bearer)(?P<sp>\s+)(?P<value>(?=[A-Za-z0-9\-._~+/]*\d)[A-Za-z0-9\-._~+/]{8,}=*)"
)

# Known secrets: what this process decrypted. Bounded (refreshed tokens keep coming in a
# long-running worker); the newest are kept.
_KNOWN_LIMIT = 4096
_MIN_KNOWN = 8  # shorter values would mask ordinary words; a URL's userinfo is masked by pattern anyway
_known: OrderedDict[str, None] = OrderedDict()
_known_lock = threading.Lock()
_known_sorted: tuple[str, ...] = ()


def is_secret_name(name: str) -> bool:
    """Whether a field, setting, option or parameter called ``name`` holds a secret."""
    lowered = name.lower()
    words = _WORD.findall(lowered)
    if any(word in _SECRET_WORDS for word in words):
        return True
    squashed = "".join(words)
    return any(part in squashed for part in _SECRET_PARTS)


def remember(*values: object) -> None:
    """Mask these values from now on, wherever ``redact`` sees them (strings of 8 or more characters)."""
    global _known_sorted
    fresh = [v for v in values if isinstance(v, str) and len(v) >= _MIN_KNOWN and v != MASK]
    if not fresh:
        return
    with _known_lock:
        changed = False
        for value in fresh:
            if value in _known:
                _known.move_to_end(value)
                continue
            _known[value] = None
            changed = True
            while len(_known) > _KNOWN_LIMIT:
                _known.popitem(last=False)
        if changed:
            # longest first, so a URL is masked whole before its path is
            _known_sorted = tuple(sorted(_known, key=len, reverse=True))


def remember_url(url: str) -> None:
    """A secret URL (a webhook's): the URL itself, its path and query (quoted without the host by
    HTTP libraries), its password and its query values."""
    remember(url)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    remember(password, tail, parts.path if parts.path not in ("", "/") else None, parts.query)
    for match in _PAIR.finditer(parts.query):
        remember(match["value"])


def remember_fields(data: Mapping[str, Any]) -> None:
    """The secret values of a decrypted mapping (credentials, sealed options), nested ones too."""
    for name, value in data.items():
        if isinstance(value, Mapping):
            remember_fields(value)
        elif isinstance(value, str):
            if _SCHEME_URL.fullmatch(value):
                remember_url(value)
            elif is_secret_name(str(name)):
                remember(value)


def forget_all() -> None:
    """Forget every remembered secret (tests)."""
    global _known_sorted
    with _known_lock:
        _known.clear()
        _known_sorted = ()


def redact_url(url: str) -> str:
    """``url`` with its userinfo and its secret-looking query and fragment values masked."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _mask_pairs(url)
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, host = netloc.rpartition("@")
    if at:
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{host}" if has_password and user else f"{MASK}@{host}"
    return f"{scheme}://{netloc}{_mask_pairs(tail)}"


def redact_secret_url(url: str) -> str:
    """A URL that is a secret as a whole (a webhook's): only where it goes is shown,
    ``https://hooks.example.org/********``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if not parts.scheme or not host:
        return MASK
    if ":" in host:
        host = f"[{host}]"
    hidden = MASK if parts.path not in ("", "/") or parts.query or parts.username else ""
    return f"{parts.scheme}://{host}{port}/{hidden}"


def redact(text: str) -> str:
    """``text`` with every secret crosspost knows or recognises masked."""
    if not text:
        return text
    for secret in _known_sorted:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _SCHEME_URL.sub(lambda m: redact_url(m.group()), text)
    text = _AUTH_HEADER.sub(lambda m: f"{m['scheme']}{m['sp']}{MASK}", text)
    text = _QUOTED_PAIR.sub(_mask_quoted, text)
    return _mask_pairs(text)


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)


def redact_value(value: Any, name: str = "") -> Any:
    """A JSON-like value with secret fields masked and every string redacted."""
    if isinstance(value, Mapping):
        return {key: redact_value(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item, name) for item in value]
    if isinstance(value, str):
        if name and is_secret_name(name) and not _SCHEME_URL.fullmatch(value):
            return MASK if value else value
        return redact(value)
    return value


def redact_all(texts: Iterable[str]) -> list[str]:
    return [redact(text) for text in texts]


def _mask_pairs(text: str) -> str:
    def mask(match: re.Match[str]) -> str:
        if not is_secret_name(match["name"]) or match["value"] == MASK:
            return match.group()
        return f"{match['name']}{match['sep']}{MASK}"

    return _PAIR.sub(mask, text)


def _mask_quoted(match: re.Match[str]) -> str:
    if not is_secret_name(match["name"]) or not match["value"] or _SCHEME_URL.fullmatch(match["value"]):
        return match.group()
    q, vq = match["q"], match["vq"]
    return f"{q}{match['name']}{q}{match['sep']}{vq}{MASK}{vq}"


# -- logs -----------------------------------------------------------------------------------------

_log_lock = threading.Lock()
_installed = False


def install_log_redaction() -> None:
    """Redact every log record of this process when it is made: its message with its arguments,
    and its traceback (an exception's text can quote a URL). Idempotent."""
    global _installed
    with _log_lock:
        if _installed:
            return
        _installed = True
        make = logging.getLogRecordFactory()
        formatter = logging.Formatter()

        def redacted(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a record that does not format: left for logging to report
                return record
            record.msg, record.args = redact(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = redact(formatter.formatException(record.exc_info))
            return record

        logging.setLogRecordFactory(redacted)
