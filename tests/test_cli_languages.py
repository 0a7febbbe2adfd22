"""Languages through the `crosspost` command: a channel with a language only ever gets text in that
language, language tags are BCP 47, and `post edit` adds and removes channels."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scheduler.runtime import Runtime
from scheduler.settings import Settings
from scheduler.store import open_database
from scheduler.when import utcnow
from tests.conftest import Clock
from tests.helpers import Run, ok, publication_states, publish_due, refused


@pytest.fixture
def run(cli: Run) -> Run:
    return cli


def _runtime(tmp_path: Path, at: datetime | None = None) -> Runtime:
    settings = Settings(data_dir=tmp_path / "data", secret_key=os.environ["CROSSPOST_SECRET_KEY"])
    return Runtime(settings=settings, db=open_database(settings.database_url), clock=Clock(at or utcnow()))


def _shown(run: Run, post_id: int) -> dict[str, Any]:
    view: dict[str, Any] = json.loads(ok(run("post", "show", str(post_id), "--json")))
    return view


def _cms(run: Run) -> None:
    ok(run("org", "add", "cms"))
    for user, role in (("ana", "contributor"), ("eve", "editor")):
        ok(run("user", "add", user))
        ok(run("user", "role", user, "--org", "cms", "--role", role))
    for name, language in (("cms-en", "en"), ("cms-de", "de")):
        ok(
            run(
                "channel", "add", "--platform", "x", "--name", name, "--dry-run", "--org", "cms", "--language", language
            )
        )


def test_a_german_channel_is_held_without_a_german_variant_then_goes_out_in_german(run: Run, tmp_path: Path) -> None:
    _cms(run)
    created = ok(
        run(
            "post",
            "create",
            "--as",
            "ana",
            "--text",
            "New result",
            "--channel",
            "cms-en",
            "--channel",
            "cms-de",
            "--at",
            "2030-01-01 10:00",
        )
    )
    assert "cms-de needs a German (de) variant: add one with crosspost post variant 1 --language de --text" in created
    ok(run("post", "approve", "1", "--as", "eve"))
    assert {p["channel"]: p["state"] for p in _shown(run, 1)["publications"]} == {
        "cms-en": "scheduled",
        "cms-de": "awaiting_signoff",
    }
    # nobody can sign the English text out onto the German channel
    assert "cms-de needs a German (de) variant" in refused(run("post", "approve", "1", "--as", "eve"))
    ok(run("post", "variant", "1", "--language", "de", "--text", "Neues Ergebnis", "--as", "ana"))
    assert {p["channel"]: p["state"] for p in _shown(run, 1)["publications"]}["cms-de"] == "awaiting_signoff"
    ok(run("post", "approve", "1", "--as", "eve"))
    runtime = _runtime(tmp_path, datetime(2030, 1, 1, 10, 0, 1, tzinfo=UTC))
    try:
        assert publication_states(runtime, 1) == {"cms-en": "scheduled", "cms-de": "scheduled"}
        publish_due(runtime)
        assert publication_states(runtime, 1) == {"cms-en": "published", "cms-de": "published"}
        for channel, text in (("cms-de", "Neues Ergebnis"), ("cms-en", "New result")):
            [folder] = list((runtime.settings.outbox / channel).iterdir())
            sent = "".join(f.read_text() for f in folder.iterdir() if f.suffix in (".txt", ".json"))
            assert text in sent, channel
            assert ("New result" in sent) == (channel == "cms-en")
    finally:
        runtime.db.dispose()


def test_channels_without_an_organisation_are_held_too_and_any_language_lets_the_text_go(run: Run) -> None:
    ok(run("channel", "add", "--platform", "x", "--name", "de-x", "--dry-run", "--language", "de-CH"))
    ok(run("channel", "add", "--platform", "x", "--name", "plain", "--dry-run"))
    out = ok(run("post", "create", "--text", "Hello", "--channel", "de-x", "--channel", "plain", "--now"))
    assert "de-x needs a German (de-CH) variant" in out
    states = {p["channel"]: p["state"] for p in _shown(run, 1)["publications"]}
    assert states == {"de-x": "awaiting_signoff", "plain": "scheduled"}
    # a de variant serves a de-CH channel (languages compare by their primary subtag)
    assert "used on de-x" in ok(run("post", "variant", "1", "--language", "de", "--text", "Grüezi"))
    assert {p["channel"]: p["state"] for p in _shown(run, 1)["publications"]}["de-x"] == "scheduled"

    # a post may say its text goes out whatever the channel's language
    ok(run("post", "create", "--text", "CERN", "--channel", "de-x", "--now", "--any-language"))
    assert {p["state"] for p in _shown(run, 2)["publications"]} == {"scheduled"}
    # and the German text of a German post goes out on the German channel
    ok(run("post", "create", "--text", "Hallo", "--language", "de", "--channel", "de-x", "--now"))
    assert {p["state"] for p in _shown(run, 3)["publications"]} == {"scheduled"}
    # taking the permission back holds it again
    ok(run("post", "edit", "2", "--own-language"))
    assert {p["state"] for p in _shown(run, 2)["publications"]} == {"awaiting_signoff"}


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("post", "create", "--text", "x", "--channel", "c", "--now", "--language", "zz"), "'zz' is not an ISO 639-1"),
        (
            ("post", "create", "--text", "x", "--channel", "c", "--now", "--language", "en_US"),
            "not a well-formed BCP 47",
        ),
        (("channel", "add", "--platform", "x", "--name", "d", "--dry-run", "--language", "zz"), "'zz' is not an ISO"),
        (("post", "variant", "1", "--language", "zz", "--text", "x"), "'zz' is not an ISO 639-1"),
    ],
)
def test_language_codes_are_bcp_47(run: Run, args: tuple[str, ...], problem: str) -> None:
    ok(run("channel", "add", "--platform", "x", "--name", "c", "--dry-run"))
    ok(run("post", "create", "--text", "x", "--channel", "c", "--at", "2030-01-01 10:00", "--tz", "UTC"))
    assert problem in refused(run(*args))


def test_language_tags_are_stored_in_their_canonical_case(run: Run) -> None:
    ok(run("channel", "add", "--platform", "x", "--name", "tw", "--dry-run", "--language", "ZH-hant-tw"))
    assert json.loads(ok(run("channel", "list", "--json")))[0]["language"] == "zh-Hant-TW"
    ok(run("post", "create", "--text", "x", "--channel", "tw", "--now", "--language", "zh-Hans"))
    assert "tw needs a Chinese (zh-Hant-TW) variant" in ok(run("post", "review", "1"))


def test_post_edit_adds_and_removes_channels(run: Run, tmp_path: Path) -> None:
    _cms(run)
    ok(run("channel", "add", "--platform", "x", "--name", "cms-en2", "--dry-run", "--org", "cms", "--language", "en"))
    ok(run("org", "add", "lhcb"))
    ok(run("channel", "add", "--platform", "x", "--name", "lhcb-x", "--dry-run", "--org", "lhcb"))
    ok(run("post", "create", "--as", "ana", "--text", "Result", "--channel", "cms-en", "--at", "2030-01-01 10:00"))
    ok(run("post", "approve", "1", "--as", "eve"))
    # a new channel gets the checks of post create and goes through sign-off
    out = ok(run("post", "edit", "1", "--as", "ana", "--channel", "cms-en2"))
    # cms signed this very content (its hash) already: the new cms channel needs no second sign-off
    assert (
        "cms-en2: added (scheduled; cms's rule 'everything else: an editor': 1 editor or above (1 of 1 signed))" in out
    )
    assert "rule 'channels belong to their organisation'" in refused(
        run("post", "edit", "1", "--as", "ana", "--channel", "lhcb-x")
    )
    assert "unknown channel 'nope'" in refused(run("post", "edit", "1", "--channel", "nope"))
    assert "| cms-de (X): a word of 300 characters does not fit" in refused(
        run("post", "edit", "1", "--as", "ana", "--channel", "cms-de", "--text", "x" * 300)
    )
    shown = {p["channel"]: p for p in _shown(run, 1)["publications"]}
    assert shown["cms-en2"]["state"] == "scheduled"
    assert shown["cms-en2"]["due_at"] == shown["cms-en"]["due_at"]
    # the German channel takes the German variant the post already has
    ok(run("post", "variant", "1", "--language", "de", "--text", "Ergebnis", "--as", "ana"))
    ok(run("post", "edit", "1", "--as", "ana", "--channel", "cms-de"))
    assert "needs a German" not in ok(run("post", "review", "1"))
    ok(run("post", "approve", "1", "--as", "eve"))
    assert {p["channel"]: p["state"] for p in _shown(run, 1)["publications"]}["cms-de"] == "scheduled"
    # removed: cancelled, and can be added again
    assert "cms-en2: removed (cancelled)" in ok(run("post", "edit", "1", "--as", "ana", "--remove-channel", "cms-en2"))
    ok(run("post", "edit", "1", "--as", "ana", "--channel", "cms-en2"))
    assert {p["state"] for p in _shown(run, 1)["publications"]} == {"scheduled"}


def test_a_channel_where_the_post_is_published_is_not_removed(run: Run, tmp_path: Path) -> None:
    ok(run("channel", "add", "--platform", "x", "--name", "a", "--dry-run"))
    ok(run("channel", "add", "--platform", "x", "--name", "b", "--dry-run"))
    ok(run("post", "create", "--text", "Now", "--channel", "a", "--channel", "b", "--now"))
    ok(run("post", "cancel", "1", "--channel", "b"))
    runtime = _runtime(tmp_path)
    try:
        publish_due(runtime)
        assert publication_states(runtime, 1) == {"a": "published", "b": "cancelled"}
    finally:
        runtime.db.dispose()
    # out everywhere it was going: a channel added needs a time
    assert "give --at for b" in refused(run("post", "edit", "1", "--channel", "b"))
    ok(run("post", "edit", "1", "--channel", "b", "--at", "2030-01-01 10:00", "--tz", "UTC"))
    assert {p["channel"]: p["state"] for p in _shown(run, 1)["publications"]} == {"a": "published", "b": "scheduled"}
    line = refused(run("post", "edit", "1", "--remove-channel", "a"), 1)
    assert line == "error: post 1 is published, or may be, on a (published): it cannot be removed there"
    assert "is already on b" in refused(run("post", "edit", "1", "--channel", "b"))
