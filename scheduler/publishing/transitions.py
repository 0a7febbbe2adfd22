"""The one way a publication changes state: a guarded UPDATE and its event, in one step.

``transition`` (rows the caller read) and ``apply`` (rows matched by columns) check every move
against ``states.ALLOWED``, make it conditional on the state the caller saw, so two processes
can never both win, and append the event to the log in the same statement or transaction.
Nothing else writes ``Publication.state``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from scheduler.acting import current_via
from scheduler.publishing.states import ALLOWED, PublicationState
from scheduler.redaction import redact, redact_optional, redact_value
from scheduler.store import Event, Publication

PUBLICATIONS = cast(Table, Publication.__table__)
EVENTS = cast(Table, Event.__table__)


def transition(
    session: Session,
    rows: Sequence[Publication] | Sequence[Any],
    to: PublicationState,
    *,
    now: datetime,
    values: dict[str, Any] | None = None,
    message: str | None = None,
    actor: str | None = None,
) -> list[int]:
    """Move ``rows`` (publications as the caller read them) to ``to``; returns the ids that moved.

    Each row moves only if it is still in the state the caller read, so a concurrent change wins
    cleanly instead of being overwritten.
    """
    by_state: dict[str, list[int]] = {}
    for row in rows:
        by_state.setdefault(row.state, []).append(row.id)
    moved: list[int] = []
    for state, ids in by_state.items():
        moved += apply(
            session.connection(),
            PublicationState(state),
            to,
            now=now,
            match={"id": ids},
            values=values,
            message=message,
            actor=actor,
        )
    return moved


def apply(
    connection: Connection,
    source: PublicationState,
    to: PublicationState,
    *,
    now: datetime,
    match: dict[str, Any],
    values: dict[str, Any] | None = None,
    bump_attempts: bool = False,
    message: str | None = None,
    actor: str | None = None,
) -> list[int]:
    """The guarded move itself: UPDATE ... WHERE state = source AND <match> ... RETURNING, and its events.

    ``match`` maps column names to values (a list means IN). The conditional UPDATE is atomic on
    both databases (PostgreSQL re-checks the WHERE on the locked row; SQLite runs every
    transaction under its write lock), so no prior SELECT is needed. On PostgreSQL the move and
    its events are one statement (a data-modifying CTE): one round trip.
    """
    if to not in ALLOWED[source]:
        raise AssertionError(f"{source} -> {to} is not an allowed transition")
    values = values or {}
    # what is written here is kept for ever (the event log refuses updates): never a secret
    message = redact_optional(message)
    if values.get("last_error"):
        values = {**values, "last_error": redact(values["last_error"])}
    postgres = connection.dialect.name == "postgresql"
    statement, event_statement = _move_statements(
        postgres,
        source,
        to,
        tuple(sorted(match)),
        tuple(isinstance(v, list) for _, v in sorted(match.items())),
        tuple(sorted(values)),
        bump_attempts,
    )
    params = {f"m_{name}": value for name, value in match.items()}
    params |= {f"v_{name}": value for name, value in values.items()}
    params |= {"now": now, "actor": actor, "message": message, "via": current_via()}
    if postgres:
        return list(connection.execute(statement, params).scalars())
    done = connection.execute(statement, params).all()
    if done:
        connection.execute(
            event_statement,
            [{**params, "post_id": r.post_id, "publication_id": r.id, "channel_id": r.channel_id} for r in done],
        )
    return [row.id for row in done]


@functools.cache
def _move_statements(
    postgres: bool,
    source: PublicationState,
    to: PublicationState,
    match: tuple[str, ...],
    match_is_list: tuple[bool, ...],
    values: tuple[str, ...],
    bump_attempts: bool,
) -> tuple[Executable, Executable]:
    """Build each shape of move once: statements with bind parameters, reused on every call
    (building them anew costs more than the database round trip)."""
    table, events = PUBLICATIONS, EVENTS
    conditions = [table.c.state == source.value] + [
        table.c[name].in_(bindparam(f"m_{name}", expanding=True))
        if is_list
        else table.c[name] == bindparam(f"m_{name}")
        for name, is_list in zip(match, match_is_list, strict=True)
    ]
    changes: dict[str, Any] = {"state": to.value, "updated_at": bindparam("now", type_=table.c.updated_at.type)}
    changes |= {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in values}
    if bump_attempts:
        changes["attempts"] = table.c.attempts + 1
    moved = update(table).where(*conditions).values(changes).returning(table.c.id, table.c.post_id, table.c.channel_id)
    event = {
        "at": bindparam("now", type_=events.c.at.type),
        "kind": literal(f"publication.{to.value}"),
        "from_state": literal(source.value),
        "to_state": literal(to.value),
        "actor": bindparam("actor", type_=events.c.actor.type),
        "via": bindparam("via", type_=events.c.via.type),
        "message": bindparam("message", type_=events.c.message.type),
        "data": literal({}, events.c.data.type),
    }
    if postgres:
        rows = moved.cte("moved")
        selected = select(
            *(value.label(name) for name, value in event.items()), rows.c.post_id, rows.c.id, rows.c.channel_id
        )
        columns = [*event, "post_id", "publication_id", "channel_id"]
        combined = insert(events).from_select(columns, selected).returning(events.c.publication_id).add_cte(rows)
        return combined, combined
    per_row: dict[str, Any] = {
        "post_id": bindparam("post_id"),
        "publication_id": bindparam("publication_id"),
        "channel_id": bindparam("channel_id"),
    }
    return moved, insert(events).values({**event, **per_row})


def record_event(
    session: Session,
    kind: str,
    *,
    now: datetime,
    post_id: int | None = None,
    publication_id: int | None = None,
    channel_id: int | None = None,
    to_state: str | None = None,
    actor: str | None = None,
    message: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        Event(
            at=now,
            kind=kind,
            post_id=post_id,
            publication_id=publication_id,
            channel_id=channel_id,
            to_state=to_state,
            actor=actor,
            via=current_via(),
            message=redact_optional(message),  # the event log is append-only: a secret in it stays
            data=redact_value(data) if data else {},
        )
    )
