"""The store: SQLAlchemy models, the engine and migrations."""

from scheduler.store.db import Database, open_database
from scheduler.store.models import (
    Base,
    Blackout,
    Channel,
    ChannelSchedule,
    Comment,
    Control,
    Event,
    Membership,
    Organisation,
    Post,
    PostMedia,
    PostVariant,
    Publication,
    Rendition,
    Share,
    SignOff,
    User,
)

__all__ = [
    "Base",
    "Blackout",
    "Channel",
    "ChannelSchedule",
    "Comment",
    "Control",
    "Database",
    "Event",
    "Membership",
    "Organisation",
    "Post",
    "PostMedia",
    "PostVariant",
    "Publication",
    "Rendition",
    "Share",
    "SignOff",
    "User",
    "open_database",
]
