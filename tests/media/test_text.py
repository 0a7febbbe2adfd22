"""Text counting, checked against twitter-text's own conformance file (shared/conformance)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from media.specs import SPECS
from media.text import check, split_thread, x_weighted

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
