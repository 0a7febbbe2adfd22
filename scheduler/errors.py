"""Errors of the scheduler core.

* CrosspostError
  + InvalidInput            -- the user's input was refused; nothing was stored
    - InvalidTime
      . UnknownTimeZone
      . NonexistentLocalTime   (a wall time inside a DST gap)
      . AmbiguousLocalTime     (a wall time inside a DST fold, without an offset)
      . TimeInPast
    - UnknownChannel
    - ContentRejected         (text too long, too many or wrong media for a channel)
    - InvalidMedia
    - Refused                 (an editorial rule forbids it; the message names the rule)
  + NotFound
  + StateConflict           -- the action does not fit the current state
  + ConfigurationError
"""

from __future__ import annotations


class CrosspostError(Exception):
    """Base of every error crosspost raises on purpose; the message is meant for a person."""


class InvalidInput(CrosspostError):
    pass


class InvalidTime(InvalidInput):
    pass


class UnknownTimeZone(InvalidTime):
    pass


class NonexistentLocalTime(InvalidTime):
    pass


class AmbiguousLocalTime(InvalidTime):
    pass


class TimeInPast(InvalidTime):
    pass


class UnknownChannel(InvalidInput):
    pass


class ContentRejected(InvalidInput):
    pass


class InvalidMedia(InvalidInput):
    pass


class Refused(InvalidInput):
    """An organisation's rule forbids the action; the message names the rule and the way forward."""


class NotFound(CrosspostError):
    pass


class StateConflict(CrosspostError):
    pass


class ConfigurationError(CrosspostError):
    pass
