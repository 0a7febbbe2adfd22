"""Webhook channel: POST each publication as JSON to a URL the team controls.

Channel options: ``url`` (required), ``lookup_url`` (optional). Every request carries an
``Idempotency-Key`` header that stays the same across retries of one publication, so a receiver
can deduplicate. With ``lookup_url``, reconciliation asks ``GET lookup_url?idempotency_key=K``:
200 with ``{"id", "url"}`` means it landed, 404 means it did not.
"""

from __future__ import annotations

from typing import Any

import requests

from adapters._http import retry_after_seconds, shared_session, translate_transport_errors
from adapters.base import Adapter, Prepared, PublishContext, Published
from adapters.errors import AuthExpired, OutcomeUnknown, Permanent, Retryable
from scheduler.publishing.content import ChannelInfo, Content
from scheduler.redaction import redact_secret_url
from scheduler.settings import Settings


class WebhookAdapter(Adapter):
    platform = "webhook"

    def __init__(self, channel: ChannelInfo, settings: Settings) -> None:
        super().__init__(channel, settings)
        self.url = str(channel.options.get("url", ""))
        self.lookup_url = channel.options.get("lookup_url")
        # the URL is the receiver's key: errors, logs and the outbox name only where it goes
        self.shown_url = redact_secret_url(self.url)
        self.session = shared_session()

    @classmethod
    def option_problems(cls, options: dict[str, object]) -> list[str]:
        problems = []
        for key in ("url", "lookup_url"):
            value = options.get(key)
            if value is None and key == "lookup_url":
                continue
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                problems.append(f"option {key} must be an http(s) URL (--option {key}=https://...)")
        return problems

    @property
    def lookup_proves_absence(self) -> bool:
        return bool(self.lookup_url)

    def build(self, content: Content) -> Prepared:
        media = self.media_for(content)
        body = {
            "channel": self.channel.name,
            "post_id": content.post_id,
            "version": content.version,
            "text": content.full_text,
            "title": content.title,
            "link": content.link,
            "language": content.language,
            "media": [{"name": m.name, "kind": m.kind, "mime": m.mime, "alt_text": m.alt_text} for m in media],
        }
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=content.full_text,
            title=content.title,
            media=media,
            request={"method": "POST", "url": self.shown_url, "json": body},
        )

    def _headers(self, ctx: PublishContext) -> dict[str, str]:
        headers = {"Idempotency-Key": ctx.idempotency_key}
        token = (self.channel.credentials or {}).get("token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published:
        body = dict(prepared.request["json"], publication_id=ctx.publication_id, attempt=ctx.attempt)
        with translate_transport_errors(f"webhook {self.shown_url}"):
            response = self.session.post(
                self.url,
                json=body,
                headers=self._headers(ctx),
                timeout=(5.0, self.settings.http_timeout),
            )
        return self._published(response, ctx)

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None:
        if not self.lookup_url:
            return None
        with translate_transport_errors(f"webhook lookup {redact_secret_url(str(self.lookup_url))}"):
            response = self.session.get(
                str(self.lookup_url),
                params={"idempotency_key": ctx.idempotency_key},
                headers=self._headers(ctx),
                timeout=(5.0, self.settings.http_timeout),
            )
        if response.status_code == 404:
            return None
        return self._published(response, ctx)

    def _published(self, response: requests.Response, ctx: PublishContext) -> Published:
        status = response.status_code
        reason = f"webhook answered {status}: {response.text[:300]}"
        if 200 <= status < 300:
            data: dict[str, Any] = {}
            if response.content:
                try:
                    data = response.json()
                except ValueError:
                    data = {}
            return Published(remote_id=str(data.get("id") or ctx.idempotency_key), url=data.get("url"))
        if status in (429, 503):
            raise Retryable(reason, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status in (401, 403):
            raise AuthExpired(reason)
        if 400 <= status < 500:
            raise Permanent(reason)
        raise OutcomeUnknown(reason)
