from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters import DryRunAdapter, PublishContext, get_adapter
from adapters.linkedin import escape_little_text
from adapters.youtube import derive_title
from scheduler.errors import ContentRejected
from scheduler.publishing.content import ChannelInfo, Content, MediaItem
from scheduler.settings import Settings
from tests.conftest import make_settings
from tests.helpers import write_image


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


def _image(tmp_path: Path) -> MediaItem:
    path = write_image(tmp_path / "pic.png")
    return MediaItem(
        path=path,
        original_name="pic.png",
        kind="image",
        mime="image/png",
        bytes=1,
        sha256="0" * 64,
        alt_text="a red square",
    )


def _ctx(publication_id: int = 7) -> PublishContext:
    return PublishContext(
        publication_id=publication_id, idempotency_key="key-7", attempt=1, started_at=datetime.now(UTC)
    )


def test_linkedin_escapes_every_reserved_character() -> None:
    text = r"Results (2027) #physics @CERN a_b *c* ~d~ [e] {f} <g> \h |i"
    escaped = escape_little_text(text)
    assert escaped == r"Results \(2027\) \#physics \@CERN a\_b \*c\* \~d\~ \[e\] \{f\} \<g\> \\h \|i"


def test_youtube_title_is_derived_within_100_characters() -> None:
    long_line = "word " * 40
    title = derive_title(Content(text=long_line + "\nsecond line"))
    assert len(title) <= 100
    assert title.endswith("…")
    assert derive_title(Content(text="Short first line\nmore")) == "Short first line"


def test_dry_run_writes_what_the_channel_would_receive_once(plain_settings: Settings, tmp_path: Path) -> None:
    channel = ChannelInfo(id=1, name="cms-li", platform="linkedin", dry_run=True)
    adapter = get_adapter(channel, plain_settings)
    assert isinstance(adapter, DryRunAdapter)
    content = Content(text="Hello (world) #science", media=(_image(tmp_path),))
    prepared = adapter.prepare(content)
    assert adapter.lookup(prepared, _ctx()) is None
    first = adapter.publish(prepared, _ctx())
    again = adapter.publish(prepared, _ctx())  # a retry after a crash finds the earlier receipt
    assert first == again
    folder = plain_settings.outbox / "cms-li" / "00000007"
    request = json.loads((folder / "request.json").read_text())
    assert request["json"]["commentary"] == r"Hello \(world\) \#science"
    assert request["json"]["content"]["media"]["altText"] == "a red square"
    assert (folder / "01-pic.png").read_bytes() == (tmp_path / "pic.png").read_bytes()
    assert adapter.lookup(prepared, _ctx()) == first
    assert sorted(p.name for p in folder.parent.iterdir()) == ["00000007"]


def test_prepare_refuses_content_that_does_not_fit(plain_settings: Settings) -> None:
    adapter = get_adapter(ChannelInfo(id=1, name="cms-tt", platform="tiktok", dry_run=True), plain_settings)
    with pytest.raises(ContentRejected, match="TikTok needs an image or a video"):
        adapter.prepare(Content(text="text only"))


# Arabic and Hebrew with the explicit direction marks editors paste in (RLE...PDF, RLM, LRM).
RIGHT_TO_LEFT = "\u202bمرصد CMS يحتفل بعشر سنوات على اكتشاف بوزون هيغز\u202c ١٠ \u200fשלום לכולם\u200e 2027"  # noqa: RUF001 (the point is the script)


@pytest.mark.parametrize("platform", ["x", "linkedin", "tiktok", "youtube"])
def test_right_to_left_text_reaches_every_platform_intact(
    platform: str, plain_settings: Settings, tmp_path: Path
) -> None:
    channel = ChannelInfo(id=1, name=f"ar-{platform}", platform=platform, language="ar", dry_run=True)
    adapter = get_adapter(channel, plain_settings)
    media = (_image(tmp_path),) if platform in ("tiktok", "youtube") else ()
    prepared = adapter.prepare(Content(text=RIGHT_TO_LEFT, language="ar", media=media))
    assert prepared.text == RIGHT_TO_LEFT
    adapter.publish(prepared, _ctx())
    request = (plain_settings.outbox / f"ar-{platform}" / "00000007" / "request.json").read_text(encoding="utf-8")
    # every code point, marks included, in its order, in what the platform would receive
    assert RIGHT_TO_LEFT in json.dumps(json.loads(request), ensure_ascii=False)
