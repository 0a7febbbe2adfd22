"""The store: SQLAlchemy models, the engine and migrations."""

from scheduler.store.db import Database, open_database
from scheduler.store.models import Base, Channel, Event, Post, PostMedia, Publication, Rendition

__all__ = ["Base", "Channel", "Database", "Event", "Post", "PostMedia", "Publication", "Rendition", "open_database"]
