"""What the dispatcher sends out every round (``run_dispatcher(outbound=...)``, wired by the shells):
each step is quick, and its HTTP runs in its own threads, so a slow receiver never holds a round."""

from __future__ import annotations

from datetime import datetime

from scheduler.runtime import Runtime


def run_outbound(runtime: Runtime, now: datetime) -> None:
    from scheduler.notify import notifications, webhooks

    webhooks.fan_out(runtime.db, runtime.settings, now=now)
    webhooks.deliver_due(runtime, now=now)
    notifications.deliver_in_background(runtime, now)
