"""The twitter-text conformance suite (vendored in tests/conformance/twitter-text/),
every case of every section Chirp implements.

The expected number of cases per section is pinned below, so a section
cannot shrink, vanish or appear without this file changing with it.

What the service uses is called in chalicelib.tweets.tweet_text; the rest of
twitter-text's API that the suite calls, in tests/conformance/twitter_text_adapters.py.
"""
import json
from pathlib import Path

import pytest
import yaml

from chalicelib.tweets import tweet_text
from tests.conformance import twitter_text_adapters as adapters

SUITE = Path(__file__).resolve().parents[1] / "conformance" / "twitter-text"


def _load(name: str) -> dict:
    with open(SUITE / name, encoding="utf-8") as file:
        return yaml.safe_load(file)["tests"]


EXTRACT = _load("extract.yml")
VALIDATE = _load("validate.yml")
TLDS = _load("tlds.yml")

EXPECTED_CASES = {
    "extract.yml": {
        "mentions": 23,
        "mentions_with_indices": 3,
        "mentions_or_lists_with_indices": 5,
        "replies": 13,
        "urls": 91,
        "urls_with_indices": 10,
        "urls_with_directional_markers": 2,
        "tco_urls_with_params": 5,
        "hashtags": 65,
        "hashtags_from_astral": 3,
        "hashtags_with_indices": 8,
        "cashtags": 8,
        "cashtags_with_indices": 2,
    },
    "validate.yml": {
        "tweets": 8,
        "usernames": 4,
        "lists": 5,
        "hashtags": 7,
        "urls": 24,
        "urls_without_protocol": 5,
        "WeightedTweetsCounterTest": 20,
        "WeightedTweetsWithDiscountedEmojiCounterTest": 22,
        "UnicodeDirectionalMarkerCounterTest": 2,
    },
    "tlds.yml": {"country": 315, "generic": 1259},
}
SUITES = {"extract.yml": EXTRACT, "validate.yml": VALIDATE, "tlds.yml": TLDS}

# No case is expected to fail. A case that truly cannot pass goes here as
# {(file, section, description): reason} and runs as xfail(strict=True).
KNOWN_FAILURES: dict[tuple[str, str, str], str] = {}


def cases(file: str, section: str) -> list:
    params = []
    for number, case in enumerate(SUITES[file][section]):
        marks = []
        reason = KNOWN_FAILURES.get((file, section, case["description"]))
        if reason:
            marks.append(pytest.mark.xfail(reason=reason, strict=True))
        params.append(pytest.param(case, id=f"{number}-{case['description'][:60]}", marks=marks))
    return params


@pytest.mark.parametrize("file", sorted(EXPECTED_CASES))
def test_every_section_is_run_and_keeps_its_size(file):
    sizes = {section: len(section_cases) for section, section_cases in SUITES[file].items()}
    assert sizes == EXPECTED_CASES[file]


def test_extract_sections_not_run_are_the_ones_chirp_does_not_implement():
    # extract.yml has no other sections today; if one appears, decide and pin it above.
    assert set(EXTRACT) == set(EXPECTED_CASES["extract.yml"])


# --- extract.yml ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("extract.yml", "mentions"))
def test_mentions(case):
    assert adapters.extract_mentions(case["text"]) == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "mentions_with_indices"))
def test_mentions_with_indices(case):
    assert adapters.extract_mentions_with_indices(case["text"]) == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "mentions_or_lists_with_indices"))
def test_mentions_or_lists_with_indices(case):
    assert adapters.extract_mentions_or_lists_with_indices(case["text"]) == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "replies"))
def test_replies(case):
    assert adapters.extract_reply(case["text"]) == case["expected"]


@pytest.mark.parametrize(
    "case", cases("extract.yml", "urls") + cases("extract.yml", "tco_urls_with_params")
)
def test_urls(case):
    assert adapters.extract_urls(case["text"]) == case["expected"]


@pytest.mark.parametrize(
    "case", cases("extract.yml", "urls_with_indices") + cases("extract.yml", "urls_with_directional_markers")
)
def test_urls_with_indices(case):
    assert adapters.extract_urls_with_indices(case["text"]) == case["expected"]


@pytest.mark.parametrize(
    "case", cases("extract.yml", "hashtags") + cases("extract.yml", "hashtags_from_astral")
)
def test_hashtags(case):
    assert adapters.extract_hashtags(case["text"]) == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "hashtags_with_indices"))
def test_hashtags_with_indices(case):
    assert adapters.extract_hashtags_with_indices(case["text"]) == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "cashtags"))
def test_cashtags(case):
    assert adapters.extract_cashtags(case["text"]) == case["expected"]


@pytest.mark.parametrize("case", cases("extract.yml", "cashtags_with_indices"))
def test_cashtags_with_indices(case):
    assert adapters.extract_cashtags_with_indices(case["text"]) == case["expected"]


# --- tlds.yml: every TLD Chirp knows is extracted ------------------------------------------------


@pytest.mark.parametrize("case", cases("tlds.yml", "country") + cases("tlds.yml", "generic"))
def test_tlds(case):
    assert adapters.extract_urls(case["text"]) == case["expected"]


def test_the_shipped_tld_list_is_the_vendored_one():
    shipped = json.loads((Path(tweet_text.__file__).parent / "data" / "tlds.json").read_text("utf-8"))
    prefix = "https://twitter."
    for kind in ("country", "generic"):
        assert sorted(shipped[kind]) == sorted(case["text"].removeprefix(prefix) for case in TLDS[kind])


# --- validate.yml ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases("validate.yml", "tweets"))
def test_tweets(case):
    # This section is twitter-text's classic Validator.isValidTweet: 140 code points, a URL
    # counting 23 (its own conformance runners check it so). That is config v1.
    assert adapters.is_valid_tweet(case["text"], adapters.CONFIG_V1) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "usernames"))
def test_usernames(case):
    assert adapters.is_valid_username(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "lists"))
def test_lists(case):
    assert adapters.is_valid_list(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "hashtags"))
def test_valid_hashtags(case):
    assert tweet_text.is_valid_hashtag(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "urls"))
def test_valid_urls(case):
    assert adapters.is_valid_url(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "urls_without_protocol"))
def test_valid_urls_without_protocol(case):
    assert adapters.is_valid_url(case["text"], require_protocol=False) is case["expected"]


def parsed(text: str, config: tweet_text.TextConfig) -> dict:
    result = tweet_text.parse_tweet(text, config)
    return {
        "weightedLength": result.weighted_length,
        "valid": result.valid,
        "permillage": result.permillage,
        "displayRangeStart": result.display_range_start,
        "displayRangeEnd": result.display_range_end,
        "validRangeStart": result.valid_range_start,
        "validRangeEnd": result.valid_range_end,
    }


# As in twitter-text's runners: the first counter section is config v2 (no emoji parsing), the
# others config v3.
@pytest.mark.parametrize("case", cases("validate.yml", "WeightedTweetsCounterTest"))
def test_weighted_tweets_counter(case):
    assert parsed(case["text"], adapters.CONFIG_V2) == case["expected"]


@pytest.mark.parametrize("case", cases("validate.yml", "WeightedTweetsWithDiscountedEmojiCounterTest"))
def test_weighted_tweets_with_discounted_emoji_counter(case):
    assert parsed(case["text"], tweet_text.CONFIG_V3) == case["expected"]
    assert adapters.weighted_length(case["text"]) == case["expected"]["weightedLength"]
    assert adapters.is_valid_tweet(case["text"]) is case["expected"]["valid"]


@pytest.mark.parametrize("case", cases("validate.yml", "UnicodeDirectionalMarkerCounterTest"))
def test_unicode_directional_marker_counter(case):
    assert parsed(case["text"], tweet_text.CONFIG_V3) == case["expected"]
