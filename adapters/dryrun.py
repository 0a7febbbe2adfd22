"""Dry run: write exactly what a channel would receive into the outbox instead of sending it.

Layout: ``<outbox>/<channel>/<publication id>/`` holding ``request.json`` (the create call),
``text.txt``, the media files, and ``receipt.json``. The folder is built under a temporary name
and renamed into place in one step, so it either exists whole or not at all: that makes
``lookup`` exact, and a publication retried after a crash finds its earlier receipt instead of
writing a second one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from adapters.base import Adapter, Prepared, PublishContext, Published
from adapters.errors import Permanent
from scheduler.publishing.content import Content
from scheduler.publishing.outbox import write_request


class DryRunAdapter(Adapter):
    def __init__(self, inner: Adapter) -> None:
        super().__init__(inner.channel, inner.settings)
        self.inner = inner
        self.platform = inner.platform  # type: ignore[misc]

    @property
    def lookup_proves_absence(self) -> bool:
        return True

    def prepare(self, content: Content) -> Prepared:
        return self.inner.prepare(content)

    def folder(self, publication_id: int) -> Path:
        return self.settings.outbox / self.channel.name / f"{publication_id:08d}"

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published:
        final = self.folder(ctx.publication_id)
        existing = self._receipt(final)
        if existing is not None:
            return existing
        final.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
        try:
            write_request(prepared, staging)  # the same files a preview writes
            receipt = {
                "remote_id": f"dryrun-{ctx.idempotency_key}",
                "url": final.resolve().as_uri(),
                "publication_id": ctx.publication_id,
                "attempt": ctx.attempt,
            }
            (staging / "receipt.json").write_text(json.dumps(receipt, indent=2) + "\n")
            try:
                os.rename(staging, final)
            except OSError:
                # another attempt won the rename: its receipt stands, ours is discarded
                shutil.rmtree(staging, ignore_errors=True)
        except OSError as exc:
            # nothing reached the outbox (the staging folder is gone): a definite failure
            shutil.rmtree(staging, ignore_errors=True)
            raise Permanent(f"could not write the outbox for {self.channel.name!r}: {exc}") from exc
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        published = self._receipt(final)
        assert published is not None
        return published

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None:
        return self._receipt(self.folder(ctx.publication_id))

    @staticmethod
    def _receipt(folder: Path) -> Published | None:
        try:
            data = json.loads((folder / "receipt.json").read_text())
        except FileNotFoundError:
            return None
        return Published(remote_id=data["remote_id"], url=data["url"])
