"""Sign-off: the policy that decides who must approve a post, submitting, approving, requesting changes
and commenting.

The rule it keeps: a publication leaves ``awaiting_signoff`` only when the exact content it will
publish (its content hash) carries the sign-offs that its channel's organisation requires for the
post's importance and format (``scheduler.editorial.policy``). An edit changes the hash, so an approved post
goes back for sign-off by itself; a trivial edit (as the policy defines it) carries the existing
sign-offs over, recorded as such. No organisation publishes on another's channels without a
sign-off of the channel's organisation.

Actions name their ``actor`` (a user name). ``None`` is the operator at the server's console
(the CLI without ``--as``): it may manage and schedule, but never sign off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from scheduler import languages
from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.people import article, memberships, org_named, org_named_by_id, user_named
from scheduler.editorial.policy import (
    DEFAULT_POLICY,
    Policy,
    Rule,
    parse_policy,
    policy_from_document,
    role_rank,
)
from scheduler.errors import InvalidInput, NotFound, Refused, StateConflict
from scheduler.publishing.states import APPROVED, CHANGES_REQUESTED, DRAFT, SUBMITTED, PublicationState
from scheduler.publishing.transitions import record_event, transition
from scheduler.store import (
    Channel,
    Comment,
    Database,
    Event,
    Organisation,
    Post,
    Publication,
    Share,
    SignOff,
)

S = PublicationState


# Publications the workflow holds back or lets go as the sign-offs change.
_RELEASABLE = frozenset({S.SCHEDULED, S.QUEUED, S.RETRY_WAIT})


PARTNER_RULE = "channels belong to their organisation"


def policy_of(org: Organisation | None) -> Policy:
    if org is None or org.policy is None:
        return DEFAULT_POLICY
    return policy_from_document(org.policy)


def set_policy(db: Database, *, org: str, text: str, source: str, now: datetime, actor: str | None = None) -> Policy:
    """Replace an organisation's policy; the change, old and new, goes into the event log."""
    policy = parse_policy(text, source=source)
    with db.transaction() as session:
        organisation = org_named(session, org)
        authorize(session, actor, Action.SET_POLICY, [organisation.id])
        old = policy_of(organisation).to_document()
        organisation.policy = policy.to_document()
        session.flush()
        resettled = _resettle_org(session, organisation, now=now, actor=actor)
        record_event(
            session,
            "policy.changed",
            now=now,
            actor=actor,
            message=f"approval policy of {org} changed",
            data={"org": org, "source": source, "old": old, "new": organisation.policy, "posts_settled": resettled},
        )
    return policy


def _resettle_org(session: Session, org: Organisation, *, now: datetime, actor: str | None) -> list[int]:
    """Posts not yet out on the organisation's channels, held or released under its current rules."""
    post_ids = session.scalars(
        select(Publication.post_id)
        .join(Channel, Channel.id == Publication.channel_id)
        .where(
            Channel.org_id == org.id,
            Publication.state.in_([s.value for s in (S.AWAITING_SIGNOFF, *_RELEASABLE)]),
        )
        .distinct()
    ).all()
    for post_id in sorted(post_ids):
        settle(session, load_post(session, post_id), now=now, actor=actor)
    return sorted(post_ids)


def show_policy(db: Database, *, org: str) -> Policy:
    with db.transaction() as session:
        return policy_of(org_named(session, org))


@dataclass
class Need:
    """What one publication needs before it may be scheduled."""

    publication_id: int
    channel: str
    org: Organisation | None
    rule: Rule | None
    required: int
    content_hash: str
    variant: str
    deadline: datetime | None
    signers: list[str] = field(default_factory=list)
    # a partner's post under a host rule that needs no sign-off: an editor of the host signs it
    host_fallback: bool = False
    blocked: str | None = None  # why it can never be signed (a withdrawn share)

    @property
    def satisfied(self) -> bool:
        return self.blocked is None and len(self.signers) >= self.required

    def qualifies(self, *, user: str, role: str | None) -> bool:
        if self.blocked is not None or self.rule is None:
            return False
        if self.host_fallback:
            return role is not None and role_rank(role) >= role_rank("editor")
        return self.rule.qualifies(user=user, role=role)

    def signers_wanted(self) -> str:
        if self.host_fallback and self.org is not None:
            return f"1 editor or above of {self.org.name} (a partner's post always needs the host's sign-off)"
        return self.rule.describe_signers() if self.rule else "no sign-off"

    def describe(self) -> str:
        if self.blocked is not None:
            return self.blocked
        if self.rule is None or self.org is None:
            return "no sign-off needed"
        return (
            f"{self.org.name}'s rule {self.rule.name!r}: {self.signers_wanted()}"
            f" ({len(self.signers)} of {self.required} signed)"
        )


def content_of(publication: Publication) -> tuple[str, str]:
    """The content hash a publication will publish and a label for which version that is."""
    post = publication.post
    if publication.variant_id is not None:
        for variant in post.variants:
            if variant.id == publication.variant_id:
                label = f"channel {publication.channel.name}" if variant.channel_id else f"language {variant.language}"
                return variant.content_hash, label
    return post.content_hash, "base"


def needs_of(session: Session, post: Post) -> dict[int, Need]:
    """For each of the post's publications: the rule that applies and who has signed its content."""
    orgs = {org.id: org for org in session.scalars(select(Organisation))}
    signed: dict[tuple[str, str], list[SignOff]] = {}
    for signoff in session.scalars(select(SignOff).where(SignOff.post_id == post.id).order_by(SignOff.id)):
        signed.setdefault((signoff.org, signoff.content_hash), []).append(signoff)
    needs = {}
    withdrawn = _blocked(session, post)
    for publication in post.publications:
        content_hash, variant = content_of(publication)
        blocked = withdrawn or language_hold(post, publication)
        org = orgs.get(publication.channel.org_id) if publication.channel.org_id else None
        if org is None:
            needs[publication.id] = Need(
                publication.id, publication.channel.name, None, None, 0, content_hash, variant, None, blocked=blocked
            )
            continue
        policy = policy_of(org)
        rule = policy.rule_for(post.importance, post.format)
        # another organisation's post never goes out on this org's channel without its sign-off
        foreign = post.org_id is not None and post.org_id != org.id
        required = max(rule.required, 1) if foreign else rule.required
        # "as soon as it is signed off" has no deadline: its due time is the sign-off itself
        deadline = (
            publication.due_at - timedelta(hours=rule.deadline_hours)
            if required and not publication.immediate
            else None
        )
        need = Need(publication.id, publication.channel.name, org, rule, required, content_hash, variant, deadline)
        need.host_fallback = foreign and rule.required == 0
        need.blocked = blocked
        for signoff in signed.get((org.name, content_hash), []):
            if signoff.signer not in need.signers and need.qualifies(user=signoff.signer, role=signoff.role):
                need.signers.append(signoff.signer)
        needs[publication.id] = need
    return needs


def language_hold(post: Post, publication: Publication) -> str | None:
    """Why a channel with a language would get text in another one: its publication has no
    variant in the channel's language, and the post's own language is not the channel's (a post
    without --language is English), unless the post says its text may go out in any language.
    A channel variant (post variant --channel) is written for that channel, so in its language."""
    wanted = publication.channel.language
    if wanted is None:
        return None
    variant = next((v for v in post.variants if v.id == publication.variant_id), None)
    if variant is not None:
        if variant.channel_id is not None or (variant.language and languages.matches(variant.language, wanted)):
            return None
    elif post.any_language or languages.matches(post.language or languages.DEFAULT, wanted):
        return None
    name = languages.describe(wanted)
    base = languages.describe(post.language or languages.DEFAULT)
    return (
        f"{publication.channel.name} needs {article(name.lower())} {name} variant: add one with "
        f"crosspost post variant {post.id} --language {wanted} --text ... "
        f"(or let the {base} text go out there: crosspost post edit {post.id} --any-language)"
    )


def _blocked(session: Session, post: Post) -> str | None:
    """A copy of a withdrawn share never publishes, whatever was signed."""
    if post.share_id is None:
        return None
    offer = session.get(Share, post.share_id)
    if offer is not None and offer.state == "withdrawn":
        return (
            f"rule 'share withdrawn': share {offer.id} of post {offer.post_id} was withdrawn; this copy never publishes"
        )
    return None


def settle(session: Session, post: Post, *, now: datetime, actor: str | None) -> None:
    """Hold or release the post's publications to match its sign-offs, and update its review state.

    Called after anything that may change what is signed: creation, an edit, a sign-off, a change
    request, a submission, a new variant.
    """
    fresh(session, post)
    needs = needs_of(session, post)
    held_back = post.review in (DRAFT, CHANGES_REQUESTED)
    hold: list[Publication] = []
    release: list[Publication] = []
    late: list[Publication] = []
    for publication in post.publications:
        need = needs[publication.id]
        state = S(publication.state)
        if (held_back or not need.satisfied) and state in _RELEASABLE:
            hold.append(publication)
        elif not held_back and need.satisfied and state == S.AWAITING_SIGNOFF:
            (late if need.deadline is not None and now > need.deadline else release).append(publication)
    if hold:
        reason = f"post is {post.review.replace('_', ' ')}" if held_back else "content changed: needs a new sign-off"
        languages_missing = [need.blocked for p in hold if (need := needs[p.id]).blocked and not held_back]
        if languages_missing:
            reason = "; ".join(dict.fromkeys(b for b in languages_missing if b))
        moved = transition(
            session, hold, S.AWAITING_SIGNOFF, now=now, values={"dispatch_token": None}, message=reason, actor=actor
        )
        require_all_moved(hold, moved, post)
    if release:
        at_once = [p for p in release if p.immediate and p.due_at < now]
        if at_once:  # due now, not when it was written: lateness counts from the sign-off
            transition(
                session, at_once, S.SCHEDULED, now=now, values={"due_at": now}, message="signed off", actor=actor
            )
        later = [p for p in release if p not in at_once]
        transition(session, later, S.SCHEDULED, now=now, message="signed off", actor=actor)
    for publication in late:
        need = needs[publication.id]
        transition(
            session,
            [publication],
            S.NEEDS_ATTENTION,
            now=now,
            actor=actor,
            values={
                "last_error": f"signed off after its deadline ({need.deadline:%Y-%m-%d %H:%M} UTC, "
                f"rule {need.rule.name if need.rule else ''!r}); reschedule it with post edit --at"
            },
            message="signed off too late",
        )
    fresh(session, post)
    if post.review in (SUBMITTED, APPROVED):
        pending = [needs[p.id] for p in post.publications if p.state == S.AWAITING_SIGNOFF]
        review = SUBMITTED if any(not need.satisfied for need in pending) else APPROVED
        if review != post.review:
            post.review = review
            kind = "post.approved" if review == APPROVED else "post.resubmitted"
            message = "signed off: it will publish as scheduled" if review == APPROVED else "needs a new sign-off"
            record_event(
                session, kind, now=now, post_id=post.id, actor=actor, message=message, data={"version": post.version}
            )


def require_all_moved(rows: Sequence[Publication], moved: Sequence[int], post: Post) -> None:
    """A row that a worker claimed meanwhile did not move: refuse the whole change (the caller's
    transaction rolls back), so content can never change under a publication being published."""
    missed = [row.channel.name for row in rows if row.id not in set(moved)]
    if missed:
        raise StateConflict(
            f"post {post.id} started publishing on {', '.join(missed)} meanwhile; nothing was changed, try again"
        )


def fresh(session: Session, post: Post) -> None:
    """Transitions are Core statements: reload the post's publications, whose ORM states are stale."""
    session.flush()  # expiring would otherwise drop changes not yet written
    for publication in post.publications:
        session.expire(publication)
    session.expire(post, ["publications"])


def carry_signoffs(
    session: Session, post: Post, old_hashes: dict[int, str], *, now: datetime, actor: str | None
) -> list[str]:
    """A trivial edit keeps the sign-offs of the version it changed: recorded as carried, by whom."""
    carried = []
    for publication in post.publications:
        old = old_hashes.get(publication.id)
        new, variant = content_of(publication)
        if old is None or old == new or publication.channel.org_id is None:
            continue
        org = session.get(Organisation, publication.channel.org_id)
        assert org is not None
        # only signatures given to the old version itself carry: trivial edits do not chain
        previous = session.scalars(
            select(SignOff).where(
                SignOff.post_id == post.id,
                SignOff.org == org.name,
                SignOff.content_hash == old,
                SignOff.kind == "signed",
            )
        ).all()
        already = set(
            session.scalars(
                select(SignOff.signer).where(
                    SignOff.post_id == post.id, SignOff.org == org.name, SignOff.content_hash == new
                )
            )
        )
        for signoff in previous:
            if signoff.signer in already:
                continue
            already.add(signoff.signer)
            session.add(
                SignOff(
                    at=now,
                    post_id=post.id,
                    post_version=post.version,
                    variant=variant,
                    content_hash=new,
                    org=org.name,
                    signer=signoff.signer,
                    role=signoff.role,
                    rule=signoff.rule,
                    kind="carried",
                    note=f"trivial edit by {actor or 'the operator'} of the version {old[:12]} signed at "
                    f"{signoff.at:%Y-%m-%d %H:%M} UTC",
                )
            )
            carried.append(signoff.signer)
    return carried


def trivial_edit_limit(session: Session, post: Post) -> int:
    """The strictest trivial-edit allowance of the organisations whose channels the post is on."""
    org_ids = {p.channel.org_id for p in post.publications if p.channel.org_id is not None}
    limits = [policy_of(session.get(Organisation, org_id)).trivial_edit_chars for org_id in org_ids]
    return min(limits) if limits else 0


def resolve_author_org(
    session: Session,
    *,
    actor: str | None,
    org: str | None,
    channels: Sequence[Channel],
    submit_to: str | None,
) -> int | None:
    """The organisation a new post belongs to; refuses channels of organisations it may not use."""
    target = org_named(session, submit_to) if submit_to else None
    if actor is None:
        if org is not None:
            return org_named(session, org).id
        owners = {channel.org_id for channel in channels if channel.org_id is not None}
        return owners.pop() if len(owners) == 1 and target is None else None
    user = user_named(session, actor)
    roles = memberships(session, user)
    if org is not None:
        own = org_named(session, org)
        if own.id not in roles:
            raise Refused(f"rule 'roles': {actor} is not a member of {org}")
        author_org: int | None = own.id
    elif len(roles) == 1:
        author_org = next(iter(roles))
    elif not roles:
        raise Refused(f"rule 'roles': {actor} belongs to no organisation; an admin adds them with crosspost user role")
    else:
        names = ", ".join(sorted(org_named_by_id(session, i) for i in roles))
        raise InvalidInput(f"{actor} belongs to {names}; say which with --org")
    for channel in channels:
        if channel.org_id is None or channel.org_id == author_org:
            continue
        owner = org_named_by_id(session, channel.org_id)
        if target is not None and target.id == channel.org_id:
            continue
        raise Refused(
            f"rule {PARTNER_RULE!r}: {actor} ({org_named_by_id(session, author_org)}) may not schedule on "
            f"{channel.name}, which belongs to {owner}; submit the post to {owner}'s review queue with "
            f"--submit-to {owner}"
        )
    return author_org


def check_kind(
    session: Session, channels: Sequence[Channel], author_org: int | None, importance: str, format: str
) -> None:
    """Every organisation involved must know the post's importance and format."""
    org_ids = {channel.org_id for channel in channels if channel.org_id is not None}
    if author_org is not None:
        org_ids.add(author_org)
    for org_id in sorted(org_ids):
        org = session.get(Organisation, org_id)
        try:
            policy_of(org).check_kind(importance, format)
        except InvalidInput as problem:
            raise InvalidInput(f"{org.name if org else ''}'s policy: {problem}") from None


def require_editor_of(
    session: Session, actor: str | None, post: Post, action: str, *, kind: Action = Action.EDIT_POST
) -> None:
    """The author, or an editor or above of the post's organisation or of one of its channels'."""
    if actor is None or actor == post.author:
        return
    orgs = {post.org_id} | {p.channel.org_id for p in post.publications}
    authorize(session, actor, kind, orgs, any_of=True, doing=f"{action} post {post.id}", or_also="its author")


def load_post(session: Session, post_id: int, *, lock: bool = True) -> Post:
    """The post, row-locked (PostgreSQL; SQLite's write lock is already held), so that edits,
    sign-offs and their settling are serialised per post: a sign-off can never release content
    that an edit changed meanwhile, and two signers both see each other's signature."""
    post = session.get(Post, post_id, options=[selectinload(Post.publications)], with_for_update=lock)
    if post is None:
        raise NotFound(f"no post with id {post_id}")
    return post


def submit(db: Database, post_id: int, *, now: datetime, actor: str | None = None) -> str:
    with db.transaction() as session:
        post = load_post(session, post_id)
        if post.review not in (DRAFT, CHANGES_REQUESTED):
            raise StateConflict(f"post {post_id} is {post.review.replace('_', ' ')}, not a draft: nothing to submit")
        if actor != post.author:
            doing = f"submit post {post_id}"
            authorize(session, actor, Action.SUBMIT, [post.org_id], doing=doing, or_also="its author")
        post.review = SUBMITTED
        record_event(
            session,
            "post.submitted",
            now=now,
            post_id=post.id,
            actor=actor,
            message=awaiting(session, post),
            data={"version": post.version},
        )
        settle(session, post, now=now, actor=actor)
        return post.review


def awaiting(session: Session, post: Post) -> str:
    waiting = sorted({need.describe() for need in needs_of(session, post).values() if not need.satisfied})
    return "waiting for " + "; ".join(waiting) if waiting else "nothing to sign"


def _writers(session: Session, post: Post) -> set[str]:
    """Who wrote what is to be signed: the author, and whoever edited it or added a variant."""
    edits = session.scalars(
        select(Event.actor).where(
            Event.post_id == post.id, Event.kind.in_(["post.edited", "post.variant"]), Event.actor.is_not(None)
        )
    )
    return {name for name in [post.author, *edits] if name}


@dataclass(frozen=True)
class Approval:
    signed: list[str]  # "cms (base)", ...
    review: str
    waiting: list[str]


def approve(db: Database, post_id: int, *, actor: str, now: datetime, note: str | None = None) -> Approval:
    """``actor`` signs the current content of every publication they qualify for."""
    with db.transaction() as session:
        post = load_post(session, post_id)
        if post.review == DRAFT:
            raise StateConflict(
                f"post {post_id} is a draft; it can be signed off once submitted (crosspost post submit {post_id})"
            )
        if post.review == CHANGES_REQUESTED:
            raise StateConflict(f"changes were requested on post {post_id}; it can be signed off once resubmitted")
        # a gate before the policy: only a member of an organisation the post concerns signs it
        concerned = {post.org_id} | {p.channel.org_id for p in post.publications}
        authorize(session, actor, Action.SIGN_OFF, concerned, any_of=True, doing=f"sign off post {post_id}")
        roles = memberships(session, user_named(session, actor))
        every_need = needs_of(session, post)
        awaiting = [p for p in post.publications if p.state == S.AWAITING_SIGNOFF]
        if not awaiting:
            states = ", ".join(f"{p.channel.name} is {p.state}" for p in post.publications)
            hint = (
                " (reschedule with post edit --at)"
                if any(p.state == S.NEEDS_ATTENTION for p in post.publications)
                else ""
            )
            raise StateConflict(f"post {post_id} has nothing awaiting sign-off: {states}{hint}")
        needs = [need for p in awaiting if not (need := every_need[p.id]).satisfied]
        if not needs:  # signed already (a policy change, a concurrent signer): let it go
            settle(session, post, now=now, actor=actor)
            return Approval(signed=[], review=post.review, waiting=[])
        writers = _writers(session, post)
        signed, refusals = [], []
        done: set[tuple[str, str]] = set()
        for need in needs:
            if need.blocked is not None:  # a withdrawn share, a missing language variant
                refusals.append(need.blocked)
                continue
            assert need.org is not None
            assert need.rule is not None
            key = (need.org.name, need.content_hash)
            if key in done:
                continue
            role = roles.get(need.org.id)
            policy = policy_of(need.org)
            if actor in writers and not policy.allow_self_signoff:
                refusals.append(
                    f"{need.org.name}'s policy does not let people sign what they wrote or edited (four eyes)"
                )
            elif actor in need.signers:
                refusals.append(f"{actor} already signed this version for {need.org.name}")
            elif not need.qualifies(user=actor, role=role):
                held = f"{article(role)} {role} of {need.org.name}" if role else f"not a member of {need.org.name}"
                refusals.append(
                    f"{need.org.name}'s rule {need.rule.name!r} needs {need.signers_wanted()}; {actor} is {held}"
                )
            else:
                done.add(key)
                session.add(
                    SignOff(
                        at=now,
                        post_id=post.id,
                        post_version=post.version,
                        variant=need.variant,
                        content_hash=need.content_hash,
                        org=need.org.name,
                        signer=actor,
                        role=role or "",
                        rule=need.rule.name,
                        kind="signed",
                        note=note,
                    )
                )
                signed.append(f"{need.org.name} ({need.variant})")
        if not signed:
            raise Refused(f"{actor} may not sign off post {post_id}: " + "; ".join(dict.fromkeys(refusals)))
        session.flush()
        record_event(
            session,
            "post.signed",
            now=now,
            post_id=post.id,
            actor=actor,
            message=", ".join(signed),
            data={"version": post.version},
        )
        settle(session, post, now=now, actor=actor)
        waiting = sorted({n.describe() for n in needs_of(session, post).values() if not n.satisfied})
        return Approval(signed=signed, review=post.review, waiting=waiting)


def request_changes(db: Database, post_id: int, *, actor: str, text: str, now: datetime) -> None:
    if not text.strip():
        raise InvalidInput("say which changes: --text is empty")
    with db.transaction() as session:
        post = load_post(session, post_id)
        require_editor_of(session, actor, post, "request changes to", kind=Action.REQUEST_CHANGES)
        if actor == post.author:
            raise Refused(f"rule 'roles': {actor} wrote post {post_id}; edit it instead of requesting changes")
        if post.review not in (SUBMITTED, APPROVED):
            raise StateConflict(
                f"post {post_id} is {post.review.replace('_', ' ')}; changes are requested on "
                "submitted or approved posts"
            )
        session.add(
            Comment(at=now, post_id=post.id, post_version=post.version, author=actor, kind="change_request", text=text)
        )
        post.review = CHANGES_REQUESTED
        record_event(
            session,
            "post.changes_requested",
            now=now,
            post_id=post.id,
            actor=actor,
            message=text,
            data={"version": post.version},
        )
        settle(session, post, now=now, actor=actor)


def comment(db: Database, post_id: int, *, actor: str, text: str, now: datetime) -> None:
    if not text.strip():
        raise InvalidInput("the comment is empty")
    with db.transaction() as session:
        post = load_post(session, post_id)
        if actor != post.author:
            orgs = {post.org_id} | {p.channel.org_id for p in post.publications}
            authorize(session, actor, Action.COMMENT, orgs, any_of=True, doing=f"comment on post {post_id}")
        session.add(
            Comment(at=now, post_id=post.id, post_version=post.version, author=actor, kind="comment", text=text)
        )
        record_event(session, "post.commented", now=now, post_id=post.id, actor=actor, message=text)
