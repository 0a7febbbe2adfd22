"""OAuth 2.0 token refresh for the platforms' user tokens (shared/reference/platforms.md §1.1, §2.1, §3.1, §4.1).

Credentials that can expire carry ``expires_at`` (epoch seconds), ``refresh_token`` and the app's
``client_id`` (``client_key`` on TikTok) and ``client_secret``. A refresh returns the whole new
credentials: a new access token, its expiry from the platform's ``expires_in`` (never a constant:
TikTok changed its lifetimes in 2026), and the new refresh token where the platform rotates it
(TikTok does; the old one stops working, so the caller must store the new one before anything
else can use the old).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from adapters._http import USER_AGENT, translate_transport_errors
from adapters.errors import AuthExpired, OutcomeUnknown, Retryable
from scheduler.errors import InvalidInput
from scheduler.settings import Settings


def _request(platform: str, credentials: dict[str, Any], settings: Settings) -> tuple[str, dict[str, str], Any]:
    refresh = credentials["refresh_token"]
    if platform == "x":
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": credentials.get("client_id", "")}
        auth = (credentials["client_id"], credentials["client_secret"]) if credentials.get("client_secret") else None
        return settings.x_token_url, form, auth
    if platform == "linkedin":
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": credentials.get("client_id", ""),
            "client_secret": credentials.get("client_secret", ""),
        }
        return f"{settings.linkedin_oauth_url}/accessToken", form, None
    if platform == "tiktok":
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_key": credentials.get("client_key", credentials.get("client_id", "")),
            "client_secret": credentials.get("client_secret", ""),
        }
        return f"{settings.tiktok_api_url}/v2/oauth/token/", form, None
    if platform == "youtube":
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": credentials.get("client_id", ""),
            "client_secret": credentials.get("client_secret", ""),
        }
        return f"{settings.google_oauth_url}/token", form, None
    raise AuthExpired(f"{platform} tokens cannot be refreshed; reconnect the channel")


def refresh(platform: str, credentials: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """New credentials from the platform's token endpoint; AuthExpired when it refuses the refresh
    token (the channel must be reconnected), Retryable when it could not answer."""
    url, form, auth = _request(platform, credentials, settings)
    try:
        with translate_transport_errors(f"{platform} token refresh"):
            response = requests.post(
                url, data=form, auth=auth, headers={"User-Agent": USER_AGENT}, timeout=settings.http_timeout
            )
    except OutcomeUnknown as error:
        raise Retryable(str(error)) from error  # a refresh creates nothing: safe to ask again
    if response.status_code == 429 or response.status_code >= 500:
        raise Retryable(f"{platform} token refresh: HTTP {response.status_code}")
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    # TikTok answers 200 with an error object; the others use 4xx
    token = payload.get("access_token") or payload.get("data", {}).get("access_token")
    if response.status_code >= 400 or not token:
        reason = payload.get("error_description") or payload.get("error") or response.text[:300]
        raise AuthExpired(f"{platform} refused to refresh the channel's token ({reason})")
    body = payload.get("data", payload)
    fresh = dict(credentials)
    fresh["access_token"] = token
    fresh["expires_at"] = time.time() + float(body.get("expires_in", 3600))
    if body.get("refresh_token"):
        fresh["refresh_token"] = body["refresh_token"]  # rotated: the old one is now dead
    if body.get("refresh_expires_in"):
        fresh["refresh_expires_at"] = time.time() + float(body["refresh_expires_in"])
    return fresh


# -- connecting an account: the authorization code flow, with PKCE where the platform takes it --

SCOPES = {
    "x": "tweet.read tweet.write users.read media.write offline.access",
    "linkedin": "openid profile w_member_social",
    "tiktok": "user.info.basic,video.publish,video.upload",
    "youtube": "https://www.googleapis.com/auth/youtube.upload",
}


@dataclass(frozen=True)
class Authorization:
    platform: str
    url: str  # where the person signs in and consents
    state: str  # checked on the way back (CSRF)
    verifier: str  # PKCE code verifier
    redirect_uri: str


def authorization(platform: str, client_id: str, redirect_uri: str, settings: Settings) -> Authorization:
    if platform not in SCOPES:
        raise InvalidInput(f"{platform} accounts are not connected by OAuth; known: {', '.join(sorted(SCOPES))}")
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    common = {"response_type": "code", "redirect_uri": redirect_uri, "state": state, "scope": SCOPES[platform]}
    if platform == "x":
        url = f"{settings.x_oauth_url}?" + urlencode(common | {"client_id": client_id} | pkce)
    elif platform == "linkedin":
        url = f"{settings.linkedin_oauth_url}/authorization?" + urlencode(common | {"client_id": client_id})
    elif platform == "tiktok":
        url = f"{settings.tiktok_auth_url}?" + urlencode(common | {"client_key": client_id} | pkce)
    else:
        extra = {"client_id": client_id, "access_type": "offline", "prompt": "consent"}
        url = f"{settings.google_auth_url}?" + urlencode(common | extra | pkce)
    return Authorization(platform, url, state, verifier, redirect_uri)


def code_from_redirect(authorization: Authorization, redirected_to: str) -> str:
    """The authorization code from the URL the platform sent the browser back to."""
    query = parse_qs(urlsplit(redirected_to).query)
    if "error" in query:
        reason = query.get("error_description", query["error"])[0]
        raise AuthExpired(f"{authorization.platform} did not authorise crosspost: {reason}")
    if query.get("state", [""])[0] != authorization.state:
        raise AuthExpired("the redirect's state does not match this sign-in; start again (possible CSRF)")
    code = query.get("code", [""])[0]
    if not code:
        raise InvalidInput("the redirect URL carries no code; paste the whole URL the browser ended on")
    return code


def exchange(
    authorization: Authorization, code: str, client_id: str, client_secret: str | None, settings: Settings
) -> dict[str, Any]:
    """The code for tokens; returns the channel's credentials (with what a refresh will need)."""
    platform = authorization.platform
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": authorization.redirect_uri,
        "code_verifier": authorization.verifier,
    }
    auth = None
    if platform == "x":
        url, form["client_id"] = settings.x_token_url, client_id
        auth = (client_id, client_secret) if client_secret else None
    elif platform == "linkedin":
        url = f"{settings.linkedin_oauth_url}/accessToken"
        form |= {"client_id": client_id, "client_secret": client_secret or ""}
        del form["code_verifier"]
    elif platform == "tiktok":
        url = f"{settings.tiktok_api_url}/v2/oauth/token/"
        form |= {"client_key": client_id, "client_secret": client_secret or ""}
    else:
        url = f"{settings.google_oauth_url}/token"
        form |= {"client_id": client_id, "client_secret": client_secret or ""}
    with translate_transport_errors(f"{platform} sign-in"):
        response = requests.post(url, data=form, auth=auth, headers={"User-Agent": USER_AGENT}, timeout=30)
    payload = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    body = payload.get("data", payload)
    if response.status_code >= 400 or not body.get("access_token"):
        reason = body.get("error_description") or body.get("error") or response.text[:300]
        raise AuthExpired(f"{platform} refused the sign-in code ({reason})")
    credentials: dict[str, Any] = {
        "access_token": body["access_token"],
        "client_id": client_id,
        "expires_at": time.time() + float(body.get("expires_in", 3600)),
    }
    if client_secret:
        credentials["client_secret"] = client_secret
    if body.get("refresh_token"):
        credentials["refresh_token"] = body["refresh_token"]
    if body.get("refresh_expires_in"):
        credentials["refresh_expires_at"] = time.time() + float(body["refresh_expires_in"])
    if body.get("open_id"):
        credentials["open_id"] = body["open_id"]
    return credentials


def wait_for_redirect(port: int, *, timeout: float, ready: Callable[[str], None]) -> str:
    """Listen on 127.0.0.1:``port`` for the browser's redirect; returns the URL it arrived at.
    ``ready`` is called with the redirect URI once the listener is up."""
    arrived: list[str] = []
    done = threading.Event()

    class Callback(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            arrived.append(f"http://127.0.0.1:{port}{self.path}")
            page = b"crosspost: signed in. You can close this tab and go back to the terminal."
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            done.set()

    server = ThreadingHTTPServer(("127.0.0.1", port), Callback)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        ready(f"http://127.0.0.1:{port}/callback")
        if not done.wait(timeout):
            raise InvalidInput(f"no sign-in arrived within {timeout:.0f} s; run the command again")
        return arrived[0]
    finally:
        server.shutdown()
        server.server_close()
