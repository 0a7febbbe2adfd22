from __future__ import annotations

from scheduler.publishing.states import ALLOWED, CANCELLABLE, DISPATCHABLE, PublicationState, sources_of

S = PublicationState


def test_published_is_final_and_reachable_only_through_publishing_unknown_or_a_person() -> None:
    assert ALLOWED[S.PUBLISHED] == frozenset()
    assert sources_of(S.PUBLISHED) == {S.PUBLISHING, S.UNKNOWN, S.NEEDS_ATTENTION}


def test_nothing_goes_back_from_publishing_to_a_state_that_would_publish_again() -> None:
    # a stuck or crashed attempt may only be settled by reconciliation, never re-queued blindly
    assert S.QUEUED not in ALLOWED[S.PUBLISHING]
    assert S.SCHEDULED not in ALLOWED[S.PUBLISHING]
    assert S.QUEUED not in ALLOWED[S.UNKNOWN]


def test_every_state_is_reachable_from_scheduled() -> None:
    seen, frontier = {S.SCHEDULED}, [S.SCHEDULED]
    while frontier:
        for target in ALLOWED[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(S)


def test_a_publication_being_published_cannot_be_cancelled() -> None:
    assert S.PUBLISHING not in CANCELLABLE
    assert S.UNKNOWN not in CANCELLABLE


def test_awaiting_signoff_leads_to_publishing_only_through_scheduled() -> None:
    # the sign-off gate: nothing waiting for a signature is ever claimed or sent
    assert S.AWAITING_SIGNOFF not in DISPATCHABLE
    assert ALLOWED[S.AWAITING_SIGNOFF] == {S.SCHEDULED, S.CANCELLED, S.NEEDS_ATTENTION, S.AWAITING_SIGNOFF}
    assert S.AWAITING_SIGNOFF not in ALLOWED[S.PUBLISHING]
    assert S.AWAITING_SIGNOFF not in ALLOWED[S.UNKNOWN]
