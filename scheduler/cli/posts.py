"""`crosspost post ...`, `crosspost events` and `crosspost text check`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scheduler.cli._files import media_inputs
from scheduler.cli._output import print_json, print_table
from scheduler.cli._people import AsUser, actor, person
from scheduler.cli._types import MAX_ID, PostId, ShareId, id_option
from scheduler.errors import InvalidInput, NotFound
from scheduler.publishing.states import APPROVED, CHANGES_REQUESTED, DRAFT, SUBMITTED
from scheduler.redaction import redact, redact_optional

if TYPE_CHECKING:
    from scheduler.runtime import Runtime


app = typer.Typer(help="Posts: one piece of content, published to several channels.", no_args_is_help=True)
text_app = typer.Typer(help="Text limits, counted the way each platform counts.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _publication_rows(view: dict[str, Any]) -> list[list[Any]]:
    return [
        [view["id"], p["id"], p["channel"], p["state"], p["due_local"] or p["due_at"], p["attempts"], p["remote_url"]]
        for p in view["publications"]
    ]


_HEADERS = ["post", "pub", "channel", "state", "due", "attempts", "remote"]


@app.command("create")
def create(
    channel: Annotated[list[str], typer.Option("--channel", "-c", help="Channel name (repeatable)")],
    text: Annotated[str, typer.Option(help="The post's text")] = "",
    at: Annotated[str | None, typer.Option(help="'YYYY-MM-DD HH:MM' with --tz, or an ISO instant with offset")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone of --at, e.g. Europe/Zurich")] = None,
    now: Annotated[bool, typer.Option("--now", help="Publish immediately")] = False,
    queue: Annotated[bool, typer.Option("--queue", help="Add to the channels' queues: the next free slot")] = False,
    media: Annotated[list[str] | None, typer.Option(help="Image or video file or http(s) URL (repeatable)")] = None,
    alt: Annotated[list[str] | None, typer.Option(help="Alt text for the media, in the same order")] = None,
    focus: Annotated[
        list[str] | None,
        typer.Option(
            help="The point each crop of the media keeps, X,Y from 0..1 (from the left, from the top), in the "
            "same order as --media; auto: the subject found automatically (the default)"
        ),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title (YouTube, TikTok photo posts)")] = None,
    link: Annotated[str | None, typer.Option(help="A link to add to the post")] = None,
    language: Annotated[
        str | None, typer.Option(help="The text's language, a BCP 47 tag such as en or de-CH (default: en)")
    ] = None,
    any_language: Annotated[
        bool,
        typer.Option("--any-language", help="The text may go out on channels of another language (no variant needed)"),
    ] = False,
    author: Annotated[str | None, typer.Option(help="Who wrote it (default: the --as user)")] = None,
    org: Annotated[str | None, typer.Option(help="The organisation the post belongs to")] = None,
    submit_to: Annotated[
        str | None, typer.Option(help="Submit to this organisation's review queue (to post on its channels)")
    ] = None,
    importance: Annotated[str, typer.Option(help="As the policy declares: routine, notable, major, ...")] = "routine",
    format_: Annotated[
        str | None, typer.Option("--format", help="As the policy declares: social, video, ... (default: by media)")
    ] = None,
    priority: Annotated[str, typer.Option(help="In the queue: high, normal or low")] = "normal",
    draft: Annotated[bool, typer.Option("--draft", help="Save without submitting it for sign-off")] = False,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Queue a post on one or more channels (held for sign-off where a policy asks for one)."""
    from scheduler import posts
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    with media_inputs(media, alt, runtime.settings, focus) as files:
        post_id = posts.create_post(
            runtime.db,
            runtime.settings,
            text=text,
            channels=channel,
            at=at,
            tz=tz,
            immediately=now,
            queue=queue,
            title=title,
            link=link,
            language=language,
            author=author,
            media=files or (),
            actor=actor(as_user),
            org=org,
            submit_to=submit_to,
            importance=importance,
            format=format_,
            priority=priority,
            draft=draft,
            any_language=any_language,
            now=runtime.clock(),
        )
    _report_new(runtime, post_id, as_json=as_json)


_NEW = {
    DRAFT: "saved as a draft",
    SUBMITTED: "submitted for sign-off",
    CHANGES_REQUESTED: "waiting for changes",
    APPROVED: "queued",
}


_STANDING = {
    DRAFT: "a draft",
    SUBMITTED: "submitted for sign-off",
    CHANGES_REQUESTED: "waiting for changes",
}


def _report_new(runtime: Runtime, post_id: int, *, as_json: bool, prefix: str = "") -> None:
    from scheduler import posts
    from scheduler.editorial import overview

    view = posts.show_post(runtime.db, post_id)
    review = overview.review_view(runtime.db, post_id)
    if as_json:
        print_json({**view, "review": review["review"]})
        return
    print(f"{prefix}post {post_id} {_NEW.get(review['review'], review['review'])}")
    _print_summaries(runtime, post_id)
    if review["review"] != APPROVED:
        for channel, need in review["needs"].items():
            print(f"  {channel}: {need}")
    print_table(_HEADERS, _publication_rows(view))


def _print_summaries(runtime: Runtime, post_id: int) -> None:
    """One line per channel: the text as the platform counts it against its limit, the thread, media."""
    from scheduler.publishing.preview import post_summaries

    for summary in post_summaries(runtime.db, post_id, runtime.settings):
        print(f"  {summary.line()}")


@app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only posts with a publication in this state")] = None,
    channel: Annotated[str | None, typer.Option(help="Only posts on this channel")] = None,
    org: Annotated[str | None, typer.Option(help="Only this organisation's posts and channels")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Due from: an ISO date or instant (UTC)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Due before: written the same way")] = None,
    text: Annotated[str | None, typer.Option(help="Only posts whose text holds these words")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many posts")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Recent posts: text, channels and the state on each, due and published times, lateness and
    who signed; filters refuse a state, channel or organisation that does not exist."""
    from scheduler.listing import list_posts
    from scheduler.runtime import build_runtime
    from scheduler.when import parse_due

    runtime = build_runtime()
    now = runtime.clock()
    since = None if start is None else parse_due(start, "UTC", now=now, allow_past=True).utc
    until = None if end is None else parse_due(end, "UTC", now=now, allow_past=True).utc
    views = list_posts(
        runtime.db.reader(), state=state, channel=channel, org=org, start=since, end=until, text=text, limit=limit
    )
    if as_json:
        print_json(views)
        return
    rows = []
    for view in views:
        excerpt = " ".join(view["text"].split())
        excerpt = excerpt if len(excerpt) <= 40 else excerpt[:39] + "…"
        for index, publication in enumerate(view["publications"]):
            first = index == 0
            rows.append(
                [
                    view["id"] if first else "",
                    excerpt if first else "",
                    publication["channel"],
                    publication["state"],
                    publication["due_local"] or publication["due_at"],
                    (publication["published_at"] or "")[:19],
                    "" if publication["late_s"] is None else f"{publication['late_s']:.1f} s",
                    ", ".join(view["signers"]) if first else "",
                ]
            )
    print_table(["post", "text", "channel", "state", "due", "published (UTC)", "late", "signed by"], rows)


@app.command("show")
def show(post_id: PostId, as_json: JsonFlag = False) -> None:
    """Show one post, its review state, its publications and their last errors."""
    from scheduler import posts
    from scheduler.editorial import overview
    from scheduler.runtime import build_runtime

    db = build_runtime().db.reader()  # reads take no write lock: they answer while a writer works
    view = posts.show_post(db, post_id)
    review = overview.review_view(db, post_id)["review"]
    for publication in view["publications"]:
        publication["last_error"] = redact_optional(publication["last_error"])
    if as_json:
        print_json({**view, "review": review})
        return
    print(f"post {view['id']} (version {view['version']}): {view['text']}")
    print(f"  review: {review.replace('_', ' ')}")
    for item in view["media"]:
        focus = f" focus={item['focus'][0]:g},{item['focus'][1]:g}" if "focus" in item else ""
        print(f"  media: {item['name']} ({item['mime']}, {item['bytes']} bytes) alt={item['alt_text']!r}{focus}")
    print_table(_HEADERS, _publication_rows(view))
    for publication in view["publications"]:
        if publication["last_error"]:
            print(f"  {publication['channel']}: {publication['last_error']}")
    for move in view["requeued"]:
        print(f"  {move['channel']}: moved by the queue on {move['at'][:10]} {move['summary']}")


@app.command("edit")
def edit(
    post_id: PostId,
    text: Annotated[str | None, typer.Option()] = None,
    title: Annotated[str | None, typer.Option()] = None,
    link: Annotated[str | None, typer.Option()] = None,
    at: Annotated[str | None, typer.Option(help="New due time")] = None,
    tz: Annotated[str | None, typer.Option()] = None,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", "-c", help="Add the post to this channel (repeatable)")
    ] = None,
    remove_channel: Annotated[
        list[str] | None, typer.Option("--remove-channel", help="Take the post off this channel (repeatable)")
    ] = None,
    any_language: Annotated[
        bool | None,
        typer.Option(
            "--any-language/--own-language",
            help="Whether the text may go out on channels of another language without a variant",
        ),
    ] = None,
    as_user: AsUser = None,
) -> None:
    """Change a post's content, due time or channels before it goes out (changed content needs a new sign-off)."""
    from scheduler import posts
    from scheduler.editorial import overview
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    version = posts.edit_post(
        runtime.db,
        runtime.settings,
        post_id,
        text=text,
        title=title,
        link=link,
        at=at,
        tz=tz,
        actor=actor(as_user),
        add_channels=channel or [],
        remove_channels=remove_channel or [],
        any_language=any_language,
        now=runtime.clock(),
    )
    view = overview.review_view(runtime.db, post_id)
    review = view["review"]
    print(f"post {post_id} is now version {version} ({review.replace('_', ' ')})")
    if channel or remove_channel:
        states = {p["channel"]: p["state"] for p in posts.show_post(runtime.db, post_id)["publications"]}
        for name in channel or []:
            print(f"  {name}: added ({states.get(name)}; {view['needs'].get(name)})")
        for name in remove_channel or []:
            print(f"  {name}: removed ({states.get(name)})")
    _print_summaries(runtime, post_id)
    if at is not None:
        for warning in overview.deadline_warnings(runtime.db, post_id, now=runtime.clock()):
            print(f"warning: {warning}", file=sys.stderr)


@app.command("preview")
def preview(
    post_id: PostId,
    channel: Annotated[list[str] | None, typer.Option("--channel", "-c", help="Only this channel (repeatable)")] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write (default: DATA_DIR/preview/post-ID)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write exactly what each channel would receive (the dry-run outbox's files: request body, text
    as counted and escaped, the thread split, each rendition) and an HTML contact sheet; publishes
    nothing and changes no publication."""
    from scheduler.publishing import media_prep
    from scheduler.publishing.preview import as_json as previews_json
    from scheduler.publishing.preview import contact_sheet, write_preview
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    folder = out or runtime.settings.data_dir / "preview" / f"post-{post_id}"
    made = write_preview(
        runtime.db,
        post_id,
        runtime.settings,
        runtime.adapters,
        folder,
        channels=channel or [],
        renditions=lambda publication_id: media_prep.preview_renditions(
            runtime.db, publication_id, settings=runtime.settings, clock=runtime.clock
        ),
    )
    sheet = contact_sheet(post_id, made, folder)
    if as_json:
        print(previews_json(made))
        return
    for item in made:
        parts = f", {len(item.parts)} parts" if len(item.parts) > 1 else ""
        print(f"{item.channel} ({item.state}): {item.folder}{parts}, {len(item.media)} media")
    print(f"contact sheet: {sheet}")


@app.command("cancel")
def cancel(
    post_id: PostId,
    channel: Annotated[str | None, typer.Option(help="Only this channel")] = None,
    as_user: AsUser = None,
) -> None:
    """Cancel what has not been published yet."""
    from scheduler import posts
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    names = posts.cancel_post(runtime.db, post_id, channel=channel, actor=actor(as_user), now=runtime.clock())
    print(f"post {post_id}: cancelled on {', '.join(names)}")


@app.command("retry")
def retry(
    post_id: PostId,
    channel: Annotated[str | None, typer.Option(help="Only this channel")] = None,
    as_user: AsUser = None,
) -> None:
    """Send failed, cancelled or needs-attention publications again, now."""
    from scheduler import posts
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    names = posts.retry_post(runtime.db, post_id, channel=channel, actor=actor(as_user), now=runtime.clock())
    print(f"post {post_id}: queued again on {', '.join(names)}")


# -- the editorial workflow ----------------------------------------------------------------------


@app.command("submit")
def submit(post_id: PostId, as_user: AsUser = None) -> None:
    """Submit a draft (or a post changes were requested on) for sign-off."""
    from scheduler.editorial import signoff
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    signoff.submit(runtime.db, post_id, now=runtime.clock(), actor=actor(as_user))
    _report_review(runtime, post_id)


def _report_review(runtime: Runtime, post_id: int) -> None:
    from scheduler.editorial import overview

    review = overview.review_view(runtime.db, post_id)
    state = review["review"]
    if state == APPROVED:
        print(f"post {post_id} is approved: it will publish as scheduled")
        return
    print(f"post {post_id} is {_STANDING.get(state, state)}")
    for channel, need in review["needs"].items():
        print(f"  {channel}: {need}")


@app.command("approve")
def approve(
    post_id: PostId,
    note: Annotated[str | None, typer.Option(help="A note for the sign-off record")] = None,
    as_user: AsUser = None,
) -> None:
    """Sign off the post's current content, for every organisation you may sign for."""
    from scheduler.editorial import signoff
    from scheduler.runtime import build_runtime

    signer = person(as_user, "signing off")
    runtime = build_runtime()
    approval = signoff.approve(runtime.db, post_id, actor=signer, note=note, now=runtime.clock())
    if approval.signed:
        print(f"post {post_id}: {signer} signed for {', '.join(approval.signed)}")
    else:
        print(f"post {post_id}: already signed as its policy requires; nothing more to sign")
    if approval.review == APPROVED:
        print(f"post {post_id} is approved: it will publish as scheduled")
    else:
        print(f"post {post_id} is {approval.review.replace('_', ' ')}; still waiting for:")
        for waiting in approval.waiting:
            print(f"  {waiting}")


@app.command("request-changes")
def request_changes(
    post_id: PostId,
    text: Annotated[str, typer.Option(help="What should change")],
    as_user: AsUser = None,
) -> None:
    """Send the post back to its author with the changes wanted; it is held until resubmitted."""
    from scheduler.editorial import signoff
    from scheduler.runtime import build_runtime

    reviewer = person(as_user, "requesting changes")
    runtime = build_runtime()
    signoff.request_changes(runtime.db, post_id, actor=reviewer, text=text, now=runtime.clock())
    print(f"post {post_id}: changes requested by {reviewer}; it is held until resubmitted")


@app.command("comment")
def comment(
    post_id: PostId,
    text: Annotated[str, typer.Option(help="The comment")],
    as_user: AsUser = None,
) -> None:
    """Comment on a post (kept with the post's version)."""
    from scheduler.editorial import signoff
    from scheduler.runtime import build_runtime

    author = person(as_user, "commenting")
    runtime = build_runtime()
    signoff.comment(runtime.db, post_id, actor=author, text=text, now=runtime.clock())
    print(f"post {post_id}: comment by {author} added")


@app.command("share")
def share(
    post_id: PostId,
    with_org: Annotated[str, typer.Option("--with", help="The partner organisation")],
    may_edit: Annotated[bool, typer.Option("--may-edit", help="The partner may change the text")] = False,
    as_user: AsUser = None,
) -> None:
    """Offer an approved post to a partner, to adopt on its own channels under its own policy."""
    from scheduler.editorial import shares
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    share_id = shares.share(
        runtime.db, post_id, to_org=with_org, may_edit=may_edit, actor=actor(as_user), now=runtime.clock()
    )
    terms = "may edit the text" if may_edit else "text as is"
    print(f"post {post_id} shared with {with_org} as share {share_id} ({terms})")


def _shared(runtime: Runtime, share_id: int) -> dict[str, Any]:
    from scheduler.editorial import shares

    for row in shares.list_shares(runtime.db):
        if row["id"] == share_id:
            return row
    raise NotFound(f"no share with id {share_id}")


@app.command("adopt")
def adopt(
    share_id: ShareId,
    channel: Annotated[list[str], typer.Option("--channel", "-c", help="Your channel (repeatable)")],
    at: Annotated[str | None, typer.Option(help="'YYYY-MM-DD HH:MM' with --tz, or an ISO instant with offset")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone of --at")] = None,
    now: Annotated[bool, typer.Option("--now", help="Publish immediately")] = False,
    queue: Annotated[bool, typer.Option("--queue", help="The next free slot of each channel's queue")] = False,
    text: Annotated[str | None, typer.Option(help="Your text (default: the original's)")] = None,
    importance: Annotated[str | None, typer.Option(help="Default: the original's")] = None,
    format_: Annotated[str | None, typer.Option("--format", help="Default: the original's")] = None,
    priority: Annotated[str | None, typer.Option(help="high, normal or low (default: the original's)")] = None,
    org: Annotated[str | None, typer.Option(help="Your organisation, if you belong to several")] = None,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """Adopt a post shared with your organisation: a copy on your channels, under your policy."""
    from scheduler import posts
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    original = _shared(runtime, share_id)["post"]
    post_id = posts.adopt_share(
        runtime.db,
        runtime.settings,
        share_id,
        channels=channel,
        at=at,
        tz=tz,
        immediately=now,
        queue=queue,
        text=text,
        actor=actor(as_user),
        org=org,
        importance=importance,
        format=format_,
        priority=priority,
        now=runtime.clock(),
    )
    _report_new(runtime, post_id, as_json=as_json, prefix=f"share {share_id} of post {original} adopted: ")


@app.command("unshare")
def unshare(
    share_id: ShareId,
    as_user: AsUser = None,
) -> None:
    """Withdraw a share; the partner's copy is cancelled unless it is already out."""
    from scheduler.editorial import shares
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    cancelled = shares.withdraw_share(runtime.db, share_id, actor=actor(as_user), now=runtime.clock())
    print(f"share {share_id} withdrawn" + (f"; the copy was cancelled on {', '.join(cancelled)}" if cancelled else ""))


@app.command("shares")
def shares(
    org: Annotated[str | None, typer.Option(help="Only shares from or to this organisation")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List shares between organisations."""
    from scheduler.editorial import shares
    from scheduler.runtime import build_runtime

    rows = shares.list_shares(build_runtime().db.reader(), org=org)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["share", "post", "from", "to", "text", "state", "copy"],
        [
            [r["id"], r["post"], r["from"], r["to"], "may edit" if r["may_edit"] else "as is", r["state"], r["copy"]]
            for r in rows
        ],
    )


@app.command("variant")
def variant(
    post_id: PostId,
    text: Annotated[str, typer.Option(help="The variant's text")],
    language: Annotated[
        str | None, typer.Option(help="For the channels of this language (BCP 47: de, de-CH, ...)")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="For this one channel")] = None,
    title: Annotated[str | None, typer.Option(help="The variant's title")] = None,
    as_user: AsUser = None,
) -> None:
    """Add the post's text in another language or for one channel (signed off on its own)."""
    from scheduler import posts
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    names = posts.add_variant(
        runtime.db,
        runtime.settings,
        post_id,
        text=text,
        language=language,
        channel=channel,
        title=title,
        actor=actor(as_user),
        now=runtime.clock(),
    )
    target = f"language {language}" if language else f"channel {channel}"
    print(f"post {post_id}: variant for {target}, used on {', '.join(names) or 'no channel yet'}")
    _report_review(runtime, post_id)


@app.command("review")
def review(post_id: PostId, as_json: JsonFlag = False) -> None:
    """Where a post stands in review: what each channel needs, and the comments."""
    from scheduler.editorial import overview
    from scheduler.runtime import build_runtime

    view = overview.review_view(build_runtime().db.reader(), post_id)
    if as_json:
        print_json(view)
        return
    print(
        f"post {post_id}: {view['review'].replace('_', ' ')} "
        f"({view['org'] or 'no organisation'}; {view['importance']} {view['format']}, {view['priority']} priority)"
    )
    print_table(
        ["channel", "needs", "sign-off by"],
        [[channel, need, _deadline(view["deadlines"][channel])] for channel, need in view["needs"].items()],
    )
    for item in view["comments"]:
        kind = "changes requested" if item["kind"] == "change_request" else "comment"
        print(f"  {item['at']} {item['author']} on version {item['version']} ({kind}): {item['text']}")


def _deadline(deadline: dict[str, Any] | None) -> str:
    if deadline is None:
        return "-"
    status = {"met": " (met)", "near": " (soon)", "passed": " (passed)"}.get(deadline["status"], "")
    return f"{deadline['local']}{status}"


@app.command("signoffs")
def signoffs(
    post: Annotated[int | None, id_option("Only this post")] = None,
    org: Annotated[str | None, typer.Option(help="Only sign-offs for this organisation")] = None,
    format_: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
) -> None:
    """The sign-off record: who signed which exact content (its hash), when, under which rule."""
    from scheduler.editorial import overview
    from scheduler.runtime import build_runtime

    if format_ not in ("csv", "json"):
        raise InvalidInput(f"--format {format_!r}: use csv or json")
    rows = overview.signoff_record(build_runtime().db.reader(), org=org, post_id=post)
    if format_ == "json":
        print_json(rows)
    else:
        sys.stdout.write(overview.as_csv(rows, overview.SIGNOFF_FIELDS))


EVENTS_PAGE = 200


def events(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events")] = False,
    after: Annotated[int, typer.Option(min=0, max=MAX_ID, help="Only events after this id")] = 0,
    post: Annotated[int | None, id_option("Only this post's events")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=100_000, help="Without --follow: print at most this many")
    ] = EVENTS_PAGE,
    as_json: JsonFlag = False,
) -> None:
    """Print the event log (every state change, in order). Without --follow it stops after --limit
    events and says, on stderr, how to page on."""
    from scheduler.listing import read_events
    from scheduler.runtime import build_runtime

    db = build_runtime().db.reader()
    last = after
    while True:
        batch = read_events(db, after=last, post_id=post, limit=EVENTS_PAGE if follow else limit)
        for event in batch:
            last = event.id
            if as_json:  # JSON Lines: one object a line, so a follower can parse as it reads
                record = {**event.as_dict(), "message": redact_optional(event.message)}  # also old events
                print(json.dumps(record, ensure_ascii=False), flush=follow)
            else:
                where = f"post {event.post_id}" if event.post_id else ""
                where += f" on {event.channel}" if event.channel else ""
                who = f" by {event.actor}" if event.actor else ""
                message = redact(event.message or "")
                print(
                    f"{event.id:>6} {event.at:%Y-%m-%d %H:%M:%S} {event.kind:<26} {where}{who}  {message}", flush=follow
                )
        if not follow:
            if len(batch) == limit and read_events(db, after=last, post_id=post, limit=1):
                same_post = f" --post {post}" if post is not None else ""
                shown = f"first {limit} events" if limit > 1 else "first event"
                print(f"showing the {shown}; more with --after {last}{same_post}", file=sys.stderr)
            return
        if len(batch) < EVENTS_PAGE:  # caught up: wait for new ones
            time.sleep(1.0)


@text_app.command("check")
def text_check(
    text: str,
    channel: Annotated[str | None, typer.Option(help="Count as this channel's platform does")] = None,
    platform: Annotated[str | None, typer.Option(help="x, linkedin, tiktok, youtube or webhook")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Count TEXT the way a platform counts it, against its limit."""
    from media.specs import SPECS
    from media.text import check

    if (channel is None) == (platform is None):
        raise InvalidInput("give exactly one of --channel or --platform")
    if channel is not None:  # only then the database
        from scheduler import posts
        from scheduler.runtime import build_runtime

        platform = posts.find_channel(build_runtime().db.reader(), channel).platform
    assert platform is not None
    if platform not in SPECS:
        raise InvalidInput(f"unknown platform {platform!r}; known: {', '.join(sorted(SPECS))}")
    result = check(text, SPECS[platform].text)
    if as_json:
        print_json({"length": result.length, "limit": result.limit, "valid": result.valid, "problems": result.problems})
    else:
        verdict = "fits" if result.valid else "; ".join(result.problems)
        print(f"{result.length}/{result.limit} on {SPECS[platform].label}: {verdict}")
