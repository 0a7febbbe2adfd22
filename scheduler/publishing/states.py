"""The publication state machine (docs/scheduling.md, after shared/reference/scheduling-design.md §1.2).

Only ``scheduler.publishing.publications`` moves a publication between states, and every move it makes is
checked against ``ALLOWED`` and appended to the event log.
"""

from __future__ import annotations

from enum import StrEnum

# Review states of a post (editorial.py); "approved" also stands for "nothing to sign" (no policy applies).
DRAFT, SUBMITTED, CHANGES_REQUESTED, APPROVED = "draft", "submitted", "changes_requested", "approved"


class PublicationState(StrEnum):
    AWAITING_SIGNOFF = "awaiting_signoff"  # its content lacks the sign-off its policy requires; never dispatched
    SCHEDULED = "scheduled"  # waiting in the database for its due time; nothing is in the broker
    QUEUED = "queued"  # claimed by a dispatcher; a message with this row's dispatch token is on its way
    PUBLISHING = "publishing"  # claimed by a worker, committed before the platform call; holds a lease
    PUBLISHED = "published"  # the platform has it; remote id and URL recorded
    RETRY_WAIT = "retry_wait"  # definitely not published; waits in the database until next_attempt_at
    FAILED = "failed"  # definitely not published and will not be retried automatically
    UNKNOWN = "unknown"  # a publish attempt ended without an answer; reconciliation looks it up
    NEEDS_ATTENTION = "needs_attention"  # a person must decide (lookup could not tell, or auth expired)
    CANCELLED = "cancelled"  # withdrawn by a user before it was published


S = PublicationState

ALLOWED: dict[PublicationState, frozenset[PublicationState]] = {
    # -> scheduled once signed off; -> needs_attention when the sign-off deadline passed without it;
    # -> awaiting_signoff when the queue moves it
    S.AWAITING_SIGNOFF: frozenset({S.SCHEDULED, S.CANCELLED, S.NEEDS_ATTENTION, S.AWAITING_SIGNOFF}),
    # -> needs_attention: its media cannot be made to fit the channel; -> awaiting_signoff: edited after sign-off
    S.SCHEDULED: frozenset({S.QUEUED, S.CANCELLED, S.SCHEDULED, S.NEEDS_ATTENTION, S.AWAITING_SIGNOFF}),
    # queued -> queued is a re-dispatch with a new token after the message was lost; -> needs_attention
    # when no worker took it after publications.MAX_REDISPATCHES re-dispatches (nothing was sent)
    S.QUEUED: frozenset({S.PUBLISHING, S.QUEUED, S.SCHEDULED, S.CANCELLED, S.AWAITING_SIGNOFF, S.NEEDS_ATTENTION}),
    S.PUBLISHING: frozenset({S.PUBLISHED, S.RETRY_WAIT, S.FAILED, S.UNKNOWN, S.NEEDS_ATTENTION}),
    S.RETRY_WAIT: frozenset({S.QUEUED, S.SCHEDULED, S.CANCELLED, S.NEEDS_ATTENTION, S.AWAITING_SIGNOFF}),
    # a late answer from the worker that timed out still counts: unknown -> published
    S.UNKNOWN: frozenset({S.PUBLISHED, S.RETRY_WAIT, S.NEEDS_ATTENTION, S.UNKNOWN}),
    S.NEEDS_ATTENTION: frozenset({S.SCHEDULED, S.CANCELLED, S.PUBLISHED, S.AWAITING_SIGNOFF}),
    S.FAILED: frozenset({S.SCHEDULED, S.CANCELLED, S.AWAITING_SIGNOFF}),
    S.CANCELLED: frozenset({S.SCHEDULED, S.AWAITING_SIGNOFF}),
    S.PUBLISHED: frozenset(),
}

# States in which the content may still change: nothing has reached, or is reaching, the platform.
EDITABLE = frozenset(
    {S.AWAITING_SIGNOFF, S.SCHEDULED, S.QUEUED, S.RETRY_WAIT, S.FAILED, S.NEEDS_ATTENTION, S.CANCELLED}
)
# States a dispatcher picks up when due.
DISPATCHABLE = frozenset({S.SCHEDULED, S.RETRY_WAIT})
# States a user may cancel.
CANCELLABLE = frozenset({S.AWAITING_SIGNOFF, S.SCHEDULED, S.QUEUED, S.RETRY_WAIT, S.FAILED, S.NEEDS_ATTENTION})
# States a user may send back to the queue with `post retry`.
RETRYABLE = frozenset({S.FAILED, S.NEEDS_ATTENTION, S.CANCELLED})
FINAL = frozenset({S.PUBLISHED, S.FAILED, S.CANCELLED})
# Where a person decides; every other state that is not final leaves on its own within a bound,
# to a final state or to this one (docs/scheduling.md, "States", lists the same bounds).
PERSON = S.NEEDS_ATTENTION
BOUNDS: dict[PublicationState, str] = {
    S.AWAITING_SIGNOFF: "the sign-off deadline (or the due time): needs_attention",
    S.SCHEDULED: "the due time; while its renditions are made, media_prep.RENDER_TRIES lost requests: needs_attention",
    S.QUEUED: "publications.MAX_REDISPATCHES re-dispatches that no worker took: needs_attention",
    S.PUBLISHING: "publish_lease without renewal: unknown",
    S.RETRY_WAIT: "max_attempts attempts: failed",
    S.UNKNOWN: "reconcile_window of lookups: needs_attention",
}


def sources_of(target: PublicationState) -> frozenset[PublicationState]:
    """Every state from which ``target`` may be reached."""
    return frozenset(state for state, targets in ALLOWED.items() if target in targets)
