"""Which awareness days and campaigns an organisation's people see: the built-in days, imported
days of no organisation or of their own, and the campaigns of their organisations or on their
channels. Another organisation's own days and campaigns stay theirs (the API, the web calendar,
the composer and the .ics feed all ask here)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from scheduler.calendar.campaigns import calendar_between, list_campaigns
from scheduler.calendar.observances import Occurrence
from scheduler.store import Campaign, Channel, CustomObservance, Database


def visible_occurrences(
    db: Database, org_ids: Collection[int], first: dt.date, last: dt.date, *, tag: str | None = None
) -> list[Occurrence]:
    """Occurrences in [first, last] (inclusive) that members of ``org_ids`` may see."""
    with db.read() as session:
        hidden = set(
            session.scalars(
                select(CustomObservance.id).where(
                    CustomObservance.org_id.is_not(None), CustomObservance.org_id.not_in(list(org_ids) or [-1])
                )
            )
        )
    return [o for o in calendar_between(db, first, last, tag=tag) if o.id not in hidden]


def campaign_owners(db: Database) -> dict[int, set[int | None]]:
    """Each campaign's organisations: its own and its channels' owners."""
    with db.read() as session:
        channel_orgs = dict(session.execute(select(Channel.name, Channel.org_id)).all())
        return {
            campaign_id: {org_id, *(channel_orgs.get(name) for name in channels)}
            for campaign_id, org_id, channels in session.execute(
                select(Campaign.id, Campaign.org_id, Campaign.channels)
            )
        }


def may_see_campaign(owners: set[int | None], org_ids: Collection[int], *, instance_wide: bool) -> bool:
    """A campaign of no organisation is for whoever may act instance-wide (a host admin)."""
    orgs = {org for org in owners if org is not None}
    return bool(orgs & set(org_ids)) if orgs else instance_wide


def visible_campaigns(db: Database, org_ids: Collection[int], *, instance_wide: bool) -> list[dict[str, Any]]:
    owners = campaign_owners(db)
    return [
        row
        for row in list_campaigns(db)
        if may_see_campaign(owners.get(row["id"], {None}), org_ids, instance_wide=instance_wide)
    ]
