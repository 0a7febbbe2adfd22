"""Who may do what, in which organisation: the one check every organisation-scoped action makes.

``authorize`` is called with the actor, the action and *every* organisation the action touches:
the one that owns the object now and, for a move, the one it goes to. The actor must hold the
action's minimum role in each of them (or, for ``any_of`` actions on a post, in one of them).
An action that touches no organisation (a channel or blackout nobody owns, the global pause)
needs an admin of a host organisation.

The operator (``actor=None``: the CLI at the server without ``--as``) passes every check here;
what the operator may never do (sign off) is refused where the sign-off is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.acting import scoped_roles
from scheduler.editorial.roles import ROLES
from scheduler.errors import NotFound, Refused
from scheduler.store import Membership, Organisation, User


class Action(StrEnum):
    MANAGE_MEMBERS = "manage members"
    SET_POLICY = "change the approval policy"
    ADD_CHANNEL = "add a channel"
    ASSIGN_CHANNEL = "assign a channel"
    RECONNECT_CHANNEL = "reconnect a channel"
    SET_SCHEDULE = "set a posting schedule"
    ADD_BLACKOUT = "add a blackout"
    REMOVE_BLACKOUT = "remove a blackout"
    PAUSE = "pause publishing"
    RESUME = "resume publishing"
    IMPORT_CALENDAR = "import observances"
    ADD_CAMPAIGN = "add a campaign"
    EDIT_CAMPAIGN = "edit a campaign"
    REMOVE_CAMPAIGN = "remove a campaign"
    CREATE_POST = "create posts"
    EDIT_POST = "edit, cancel or retry posts"
    REQUEST_CHANGES = "request changes to posts"
    COMMENT = "comment on posts"
    SUBMIT = "submit posts for sign-off"
    SIGN_OFF = "sign off posts"  # then the policy says whose sign-off counts
    SHARE = "share or withdraw posts"
    ADOPT = "adopt shared posts"
    VIEW = "see posts"  # of one's organisations, and those submitted to or shared with them
    MANAGE_WEBHOOKS = "manage webhooks"
    MANAGE_NOTIFICATIONS = "manage notification targets"


# The lowest role that may take each action (roles in the order of ``policy.ROLES``).
MINIMUM_ROLE: dict[Action, str] = {
    Action.MANAGE_MEMBERS: "admin",
    Action.SET_POLICY: "admin",
    Action.ADD_CHANNEL: "admin",
    Action.ASSIGN_CHANNEL: "admin",
    Action.RECONNECT_CHANNEL: "admin",
    Action.SET_SCHEDULE: "admin",
    Action.ADD_BLACKOUT: "admin",
    Action.REMOVE_BLACKOUT: "admin",
    Action.PAUSE: "admin",
    Action.RESUME: "admin",
    Action.IMPORT_CALENDAR: "admin",
    Action.ADD_CAMPAIGN: "contributor",  # its posts go through sign-off like any other
    Action.EDIT_CAMPAIGN: "editor",  # its author may always, as a contributor (ADD_CAMPAIGN)
    Action.REMOVE_CAMPAIGN: "editor",
    Action.CREATE_POST: "contributor",
    Action.EDIT_POST: "editor",  # the author may always, see require_editor_of
    Action.REQUEST_CHANGES: "editor",
    Action.COMMENT: "contributor",
    Action.SUBMIT: "contributor",
    Action.SIGN_OFF: "contributor",
    Action.SHARE: "editor",
    Action.ADOPT: "contributor",
    Action.VIEW: "contributor",
    Action.MANAGE_WEBHOOKS: "admin",
    Action.MANAGE_NOTIFICATIONS: "admin",
}


def authorize(
    session: Session,
    actor: str | None,
    action: Action,
    touched: Iterable[int | None],
    *,
    any_of: bool = False,
    subject: str = "",
    doing: str | None = None,
    or_also: str | None = None,
) -> None:
    """Refuse (``Refused``, naming the rule, the organisation and the role held) unless ``actor``
    holds ``MINIMUM_ROLE[action]`` in every organisation of ``touched`` (in one, with ``any_of``).
    ``None`` entries stand for "no organisation" and are skipped; nothing left means the action
    is instance-wide and needs an admin of a host organisation."""
    if actor is None:
        return
    minimum = MINIMUM_ROLE[action]
    what = doing or f"{action.value}{' (' + subject + ')' if subject else ''}"
    who = (
        f"{or_also} or {_article(minimum)} {minimum} or above" if or_also else f"{_article(minimum)} {minimum} or above"
    )
    orgs = sorted({org_id for org_id in touched if org_id is not None})
    user = session.scalar(select(User).where(User.name == actor))
    if user is None:
        raise NotFound(f"no user named {actor!r}; add them with crosspost user add")
    roles = scoped_roles(
        dict(session.execute(select(Membership.org_id, Membership.role).where(Membership.user_id == user.id)).all()),
        actor,
    )
    if not orgs:
        hosts = session.scalars(select(Organisation.id).where(Organisation.kind == "host")).all()
        if any(roles.get(org_id) == "admin" for org_id in hosts):
            return
        raise Refused(f"rule 'roles': to {what} one must be an admin of a host organisation; {actor} is not")
    enough = [_holds(roles.get(org_id), minimum) for org_id in orgs]
    if any(enough) if any_of else all(enough):
        return
    names = dict(session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(orgs))).all())
    short = [org_id for org_id, ok in zip(orgs, enough, strict=True) if not ok]
    held = "; ".join(
        f"{actor} is {_article(roles[o])} {roles[o]} of {names[o]}"
        if o in roles
        else f"{actor} is not a member of {names[o]}"
        for o in short
    )
    where = " or ".join(names[o] for o in orgs) if any_of else " and ".join(names[o] for o in orgs)
    raise Refused(f"rule 'roles': to {what} in {where} one must be {who}; {held}")


def _holds(role: str | None, minimum: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(minimum)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def post_orgs(session: Session, post_id: int) -> set[int | None]:
    """The organisations that may see a post: its own, the owners of its channels (it was
    submitted to them), and those it was offered to as a share."""
    from scheduler.store import Channel, Post, Publication, Share

    orgs: set[int | None] = {session.scalar(select(Post.org_id).where(Post.id == post_id))}
    orgs |= set(
        session.scalars(
            select(Channel.org_id)
            .join(Publication, Publication.channel_id == Channel.id)
            .where(Publication.post_id == post_id)
        )
    )
    orgs |= set(session.scalars(select(Share.to_org_id).where(Share.post_id == post_id)))
    return orgs


def authorize_view(session: Session, actor: str | None, post_id: int) -> None:
    """Refuse (``Refused``) unless ``actor`` belongs to one of the organisations that may see the post."""
    authorize(session, actor, Action.VIEW, post_orgs(session, post_id), any_of=True, subject=f"post {post_id}")
