"""Adapter outcomes (the tree is drawn in ``scheduler.publishing.ports``, which owns the contract).

No ``requests`` or SDK exception leaves ``adapters/``: ``adapters._http`` translates them here.
"""

from scheduler.publishing.ports import AdapterError, AuthExpired, OutcomeUnknown, Permanent, Retryable

__all__ = ["AdapterError", "AuthExpired", "OutcomeUnknown", "Permanent", "Retryable"]
