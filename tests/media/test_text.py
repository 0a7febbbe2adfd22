"""Text counting, checked against twitter-text's own conformance file (shared/conformance)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from media.specs import SPECS, Counting
from media.text import _x_countable, check, count, raw_limit, split_thread, x_weighted

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "twitter-text"
# rb/test/conformance_test.rb: the plain weighted group runs with config v2, the rest with v3
GROUP_CONFIG = {
    "WeightedTweetsCounterTest": "config-v2.json",
    "WeightedTweetsWithDiscountedEmojiCounterTest": "config-v3.json",
    "UnicodeDirectionalMarkerCounterTest": "config-v3.json",
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower().replace("u_r_l", "url")


def _config(file_name: str) -> dict[str, Any]:
    raw = json.loads((CONFORMANCE / file_name).read_text())
    config = {_snake(key): value for key, value in raw.items()}
    config.setdefault("emoji_parsing_enabled", raw.get("version", 2) >= 3)
    return config


def _cases() -> list[Any]:
    if not CONFORMANCE.exists():
        return []
    tests = yaml.safe_load((CONFORMANCE / "validate.yml").read_text())["tests"]
    return [
        pytest.param(case["text"], case["expected"], GROUP_CONFIG[group], id=f"{group}:{case['description']}")
        for group in GROUP_CONFIG
        for case in tests[group]
    ]


CASES = _cases()


def test_all_44_weighted_cases_are_collected() -> None:
    if not CONFORMANCE.exists():
        pytest.skip("shared/conformance is not next to the project")
    assert len(CASES) == 44


@pytest.mark.parametrize(("text", "expected", "config_file"), CASES)
def test_x_weighted_length_matches_twitter_text(text: str, expected: dict[str, Any], config_file: str) -> None:
    result = x_weighted(text, _config(config_file))
    assert result.weightedLength == expected["weightedLength"]
    assert result.valid == expected["valid"]
    assert result.permillage == expected["permillage"]
    assert (result.validRangeStart, result.validRangeEnd) == (expected["validRangeStart"], expected["validRangeEnd"])


@pytest.mark.parametrize(
    ("platform", "text", "length", "valid"),
    [
        ("x", "a" * 280, 280, True),
        ("x", "https://example.org/" + "a" * 200, 23, True),  # every URL counts 23
        ("x", "界" * 141, 282, False),  # CJK counts 2
        ("linkedin", "😀" * 1500, 3000, True),  # emoji: 2 UTF-16 units
        ("linkedin", "😀" * 1501, 3002, False),
        ("tiktok", "a" * 2201, 2201, False),
        ("youtube", "é" * 2500, 5000, True),  # bytes, not characters
        ("youtube", "é" * 2501, 5002, False),
    ],
)
def test_each_platform_counts_its_own_way(platform: str, text: str, length: int, valid: bool) -> None:
    result = check(text, SPECS[platform].text)
    assert (result.length, result.valid) == (length, valid)


def test_youtube_refuses_angle_brackets() -> None:
    result = check("a <b> tag", SPECS["youtube"].text)
    assert not result.valid
    assert "may not contain '<' or '>'" in result.problems[0]


LONG = (
    "The CMS collaboration presents its combined Higgs boson measurements at the LHCP conference today. "
    "The results, with the full Run 2 dataset, agree with the Standard Model at the level of a few percent. "
    "Read the physics briefing at https://cms.cern/news/a-very-long-path/that-should-never-be-split-across-posts "
    "and join the discussion with #CMSHiggs #LHCP2027 and @CERN, @CMSexperiment and friends around the world. "
    "Next steps include the High-Luminosity LHC upgrade, which will multiply the dataset by ten over the coming years."
)


def test_a_long_text_becomes_a_numbered_thread_cut_between_sentences_never_inside_a_word() -> None:
    spec = SPECS["x"].text
    parts = split_thread(LONG, spec)
    total = len(parts)
    assert total > 1
    assert [part.rsplit(" ", 1)[1] for part in parts] == [f"{n}/{total}" for n in range(1, total + 1)]
    assert all(check(part, spec).valid for part in parts)
    bodies = [part.rsplit(" ", 1)[0] for part in parts]
    assert [w for body in bodies for w in body.split()] == LONG.split()  # nothing lost, no word cut
    assert all(body.endswith(".") for body in bodies)  # every cut falls between sentences here
    assert any("https://cms.cern/news/a-very-long-path/that-should-never-be-split-across-posts" in b for b in bodies)
    assert check(LONG, spec).valid  # a thread is fine on X


def test_a_text_too_long_for_a_thread_or_a_word_too_long_for_a_post_is_refused() -> None:
    spec = SPECS["x"].text
    assert "over the limit of 25" in check("word " * 2000, spec).problems[0]
    assert "does not fit in one post" in check("é" * 300, spec).problems[0]
    assert not check("x" * 3001, SPECS["linkedin"].text).valid  # no threads on LinkedIn


# --- bounded work (issue 11, finding 5) ------------------------------------------------------------------------

# Words made of what X's web-address pattern looks at: labels, dots, top-level domains, a protocol, paths.
_PIECES = ["a", "b7", "é", "ab", ".", ".", "-", "_", "com", "co", "uk", "xn--p1ai", "中国", "http://", "/x", "?q", "😀"]


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.lists(st.sampled_from(_PIECES), max_size=8).map("".join), max_size=6))
def test_counting_for_x_with_bounded_work_counts_what_twitter_text_counts(words: list[str]) -> None:
    text = " ".join(words)
    assert count(text, Counting.X_WEIGHTED) == x_weighted(text).weightedLength


def test_a_long_dotted_word_without_a_web_address_is_counted_without_the_pattern() -> None:
    # "a." * 800 took 46 s in twitter-text's pattern (near-cubic); no top-level domain, so no web address
    assert "." not in _x_countable("a." * 800)
    assert count("a." * 800, Counting.X_WEIGHTED) == 1600
    assert _x_countable("see cms.cern and a.b.c") == "see cms.cern and a,b,c"


def test_dotted_words_that_could_be_web_addresses_are_refused_when_counting_them_would_take_too_long() -> None:
    result = check("a." * 200 + "a_.com", SPECS["x"].text)
    assert not result.valid
    assert "too many dots between spaces" in result.problems[0]
    ordinary = "Results: https://cms.cern/news/2027/a.b.c and home.cern, twiki.cern.ch. " * 30
    assert check(ordinary, SPECS["x"].text).valid  # a thread of ordinary web addresses


def test_a_text_far_over_the_limit_is_refused_before_it_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_: object) -> int:
        raise AssertionError("counted")

    monkeypatch.setattr("media.text.count", never)
    spec = SPECS["x"].text
    result = check("a." * 50_000, spec)
    assert result.problems == (
        "text is 100,000 characters, far over the limit of 280 (25 posts as a thread); "
        "a text over 28,000 characters is not counted",
    )
    assert raw_limit(SPECS["webhook"].text) == 400_000
