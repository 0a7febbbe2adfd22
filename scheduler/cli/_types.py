"""Command-line values with the bounds the rest of crosspost can hold: a value outside them is a
usage error (one line, exit 2) before any command runs, never an overflow deep inside.

Ids are positive and fit the database's 64-bit integers (a larger one made SQLite raise
OverflowError); years and day counts stay where dates can be computed.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from scheduler.when import FIRST_YEAR, LAST_YEAR

MAX_ID = 2**63 - 1  # SQLite's INTEGER, PostgreSQL's BIGINT


def id_argument(metavar: str, help: str) -> Any:
    return typer.Argument(min=1, max=MAX_ID, metavar=metavar, help=help)


def id_option(help: str) -> Any:
    return typer.Option(min=1, max=MAX_ID, help=help)


def year_option(help: str) -> Any:
    return typer.Option(min=FIRST_YEAR, max=LAST_YEAR, help=f"{help} ({FIRST_YEAR} to {LAST_YEAR})")


PostId = Annotated[int, id_argument("POST_ID", "The post (crosspost post list)")]
ShareId = Annotated[int, id_argument("SHARE_ID", "The share (crosspost post shares)")]
CampaignId = Annotated[int, id_argument("CAMPAIGN_ID", "The campaign (crosspost campaign list)")]
