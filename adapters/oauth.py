"""OAuth 2.0 token refresh for the platforms' user tokens (shared/reference/platforms.md §1.1, §2.1, §3.1, §4.1).

Credentials that can expire carry ``expires_at`` (epoch seconds), ``refresh_token`` and the app's
``client_id`` (``client_key`` on TikTok) and ``client_secret``. A refresh returns the whole new
credentials: a new access token, its expiry from the platform's ``expires_in`` (never a constant:
TikTok changed its lifetimes in 2026), and the new refresh token where the platform rotates it
(TikTok does; the old one stops working, so the caller must store the new one before anything
else can use the old).
"""

from __future__ import annotations

import time
from typing import Any

import requests

from adapters._http import USER_AGENT, translate_transport_errors
from adapters.errors import AuthExpired, OutcomeUnknown, Retryable
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
