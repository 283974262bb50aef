"""Tweet text rules: entities and weighted length (chalicelib.tweets.tweet_text).

The twitter-text conformance suite lives in test_tweet_text_conformance.py;
these are Chirp's own cases, properties over arbitrary text, and the checks
that the hand-written scanners find exactly what twitter-text's regexes find.
"""
import functools
import random
import re
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.tweets import tweet_text
from chalicelib.tweets.tweet_text import extract_entities, parse_tweet
from tests import profiles
from tests.conformance import twitter_text_adapters as adapters
from tests.conformance.twitter_text_adapters import is_valid_tweet, weighted_length

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"

# Text made of the pieces the rules care about, so that examples hit entities often.
PIECES = [
    "a", "B", "z", "7", "_", "-", ".", "/", ":", "?", "=", "&", "!", "'", "(", ")", " ", "\n",
    "#", "\uff03", "@", "\uff20", "$", "http://", "https://", "HTTP://", "www.", "com", "co", "jp",
    "t.co/", "xn--", "example.com", "t.co/abc", "RT", "list/", "\u65e5", "\u00fc", "\u00e9", "e\u0301",
    "\u0430", "\u3002", "\u202a", "\u2066", "\ufe0f", "\u20e3", "\u200d", "\ufeff", "\U0001f600",
    "\U0001f44d\U0001f3fd", "\U00020021", "\u0e01", "\u0915\u094d", "\ud800", "K", "\u017f",
]
tweetish = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)  # lone surrogates too


# --- Entities --------------------------------------------------------------------------------------


def test_entities_of_a_tweet():
    text = "RT @alice: #Chirp launches $CHRP today: https://chirp.example.com/launch?ref=tw cc @bob_2"
    assert extract_entities(text) == {
        "hashtags": [{"tag": "Chirp", "indices": [11, 17]}],
        "mentions": [{"handle": "alice", "indices": [3, 9]}, {"handle": "bob_2", "indices": [83, 89]}],
        "urls": [{"url": "https://chirp.example.com/launch?ref=tw", "indices": [40, 79]}],
        "cashtags": [{"tag": "CHRP", "indices": [27, 32]}],
    }


def test_no_entities():
    assert extract_entities("") == {"hashtags": [], "mentions": [], "urls": [], "cashtags": []}
    assert extract_entities("just words.") == {"hashtags": [], "mentions": [], "urls": [], "cashtags": []}


def test_indices_count_code_points_of_the_text_as_sent():
    # An astral emoji is one code point (two UTF-16 units); a decomposed é stays two code points.
    text = "\U0001f600 e\u0301 #tag @me"
    entities = extract_entities(text)
    assert entities["hashtags"] == [{"tag": "tag", "indices": [5, 9]}]
    assert entities["mentions"] == [{"handle": "me", "indices": [10, 13]}]


def test_full_width_sigils():
    entities = extract_entities("\uff03\u30bf\u30b0 \uff20someone")
    assert entities["hashtags"] == [{"tag": "\u30bf\u30b0", "indices": [0, 3]}]
    assert entities["mentions"] == [{"handle": "someone", "indices": [4, 12]}]


def test_a_list_reference_is_not_a_mention():
    entities = extract_entities("see @chirp/team and @chirp")
    assert entities["mentions"] == [{"handle": "chirp", "indices": [20, 26]}]
    assert tweet_text.extract_entity_list("see @chirp/team")[0].list_slug == "/team"


def test_what_is_inside_a_url_is_only_the_url():
    text = "read http://example.com/#hash and http://example.com/@user/ now"
    entities = extract_entities(text)
    assert [url["url"] for url in entities["urls"]] == ["http://example.com/#hash", "http://example.com/@user/"]
    assert entities["hashtags"] == entities["mentions"] == []


def test_urls_without_protocol_and_their_limits():
    assert adapters.extract_urls("EXAMPLE.COM and foo.co.jp/path.") == ["EXAMPLE.COM", "foo.co.jp/path"]
    assert adapters.extract_urls("not.a.tld") == []
    assert adapters.extract_urls("http://" + "a" * 64 + ".com") == []  # a 64-character label
    assert adapters.extract_urls("http://" + "a" * 63 + ".com") == ["http://" + "a" * 63 + ".com"]


def test_path_only_joins_an_ascii_domain_that_ends_the_domain():
    # twitter-text would report "foo.com/path" over indices that span "foo.com\u65e5\u672c.com/path".
    assert adapters.extract_urls_with_indices("foo.com\u65e5\u672c.com/path") == [
        {"url": "foo.com", "indices": [0, 7]}
    ]


def test_reply():
    assert adapters.extract_reply("  @someone hi") == "someone"
    assert adapters.extract_reply("hi @someone") is None
    assert adapters.extract_reply("") is None


# --- Weighted length and validity ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("hello", 5),
        ("caf\u00e9", 4),
        ("cafe\u0301", 4),  # NFC first: e + combining acute is one character
        ("\u65e5\u672c\u8a9e", 6),  # CJK weighs 2
        ("\u2014\u201c\u201d", 3),  # dashes and quotes from the General Punctuation block weigh 1
        ("\U0001f600", 2),
        ("\U0001f44d\U0001f3fd", 2),  # with a skin tone
        (FAMILY, 2),  # a ZWJ sequence
        ("\U0001f1fa\U0001f1f8", 2),  # a flag
        ("#\ufe0f\u20e3", 2),  # a keycap
        ("\u00a9", 1),  # (c) is text unless U+FE0F makes it an emoji
        ("\u00a9\ufe0f", 2),
        ("http://example.com/" + "x" * 100, 23),
        ("see example.com", 27),
        ("   ", 3),
    ],
)
def test_weighted_length(text, length):
    assert weighted_length(text) == length


def test_the_280_limit():
    assert is_valid_tweet("a" * 280)
    assert not is_valid_tweet("a" * 281)
    assert is_valid_tweet("\u65e5" * 140)
    assert not is_valid_tweet("\u65e5" * 141)
    assert is_valid_tweet("\U0001f600" * 140)
    assert is_valid_tweet("https://example.com/" + "x" * 4000)  # any URL counts 23


@pytest.mark.parametrize(
    "text", ["", " ", "\n\t \u3000", "a\ufeffb", "a\ufffe", "\uffff", "a\ud800b", "\udc00"]
)
def test_invalid_tweets(text):
    assert not is_valid_tweet(text)


def test_parse_ranges_are_utf16_and_stop_at_the_limit():
    result = parse_tweet("\U0001f600" * 141)
    assert (result.weighted_length, result.valid, result.permillage) == (282, False, 1007)
    assert (result.display_range_end, result.valid_range_end) == (281, 279)


def test_the_classic_140_count_is_config_v1():
    text = "A lie gets halfway around the world before the truth has a chance to get its pants on. -- "
    text += "Winston Churchill (1874-1965) http://bit.ly/dJpywL"
    assert not is_valid_tweet(text, adapters.CONFIG_V1)  # 141 with the URL counted 23
    assert is_valid_tweet(text)  # 141 of 280


def test_a_long_zwj_chain_counts_as_several_emoji():
    # No standard sequence joins more than four emoji; longer chains count in pieces of four.
    man = "\U0001f468"
    assert weighted_length("\u200d".join([man] * 4)) == 2
    assert weighted_length("\u200d".join([man] * 5)) == 2 + 1 + 2


# --- Validators -----------------------------------------------------------------------------------


def test_validators():
    assert adapters.is_valid_username("@chirp_2")
    assert not adapters.is_valid_username("chirp")
    assert adapters.is_valid_list("@chirp/team")
    assert tweet_text.is_valid_hashtag("#\u65e5\u672c")
    assert not tweet_text.is_valid_hashtag("#2024")
    assert adapters.is_valid_url("https://example.com:8080/a/b?c=d#e")
    assert not adapters.is_valid_url("example.com")
    assert adapters.is_valid_url("example.com", require_protocol=False)
    assert not adapters.is_valid_url("")


# --- Properties (no deadlines: the first example pays for compiling the patterns) -------------------


def assert_indices_slice_to_entities(text):
    entities = extract_entities(text)
    for tag in entities["hashtags"]:
        start, end = tag["indices"]
        assert text[start] in "#\uff03" and text[start + 1:end] == tag["tag"]
    for mention in entities["mentions"]:
        start, end = mention["indices"]
        assert text[start] in "@\uff20" and text[start + 1:end] == mention["handle"]
    for cashtag in entities["cashtags"]:
        start, end = cashtag["indices"]
        assert text[start] == "$" and text[start + 1:end] == cashtag["tag"]
    for url in entities["urls"]:
        start, end = url["indices"]
        assert text[start:end] == url["url"]
    spans = sorted(e["indices"] for kind in entities.values() for e in kind)
    assert all(first[1] <= second[0] for first, second in zip(spans, spans[1:], strict=False))


@settings(max_examples=profiles.examples(400), deadline=None)
@given(tweetish)
def test_indices_slice_the_text_to_each_entity_with_its_sigil(text):
    assert_indices_slice_to_entities(text)


@settings(max_examples=profiles.examples(200), deadline=None)
@given(any_text)
def test_nothing_raises_on_arbitrary_text(text):
    assert_indices_slice_to_entities(text)
    result = parse_tweet(text)
    assert result.weighted_length >= 0 and result.valid_range_end <= result.display_range_end
    assert isinstance(is_valid_tweet(text), bool)
    adapters.extract_reply(text)
    for validator in (adapters.is_valid_url, adapters.is_valid_username, adapters.is_valid_list,
                      tweet_text.is_valid_hashtag):
        assert isinstance(validator(text), bool)


@settings(max_examples=profiles.examples(300), deadline=None)
@given(st.lists(st.sampled_from([piece for piece in PIECES if piece.isascii()]), max_size=60).map("".join))
def test_ascii_counts_one_per_character_and_23_per_url(text):
    urls = adapters.extract_urls(text)
    length = weighted_length(text)
    assert length == len(text) - sum(len(url) for url in urls) + 23 * len(urls)
    if not urls:
        assert length >= len(text)


# --- The scanners find what twitter-text's regexes find ------------------------------------------------
# URLs and hashtags are not matched by the regexes as twitter-text writes them (those take
# quadratic time on some input); these tests hold the scanners to the regexes on small input.


@functools.cache
def reference_patterns():
    patterns = tweet_text._patterns()
    url = re.compile(patterns.url_source, re.IGNORECASE)
    ascii_domain = re.compile(patterns.ascii_domain_source, re.IGNORECASE)
    letters, digits = [], []
    for code_point in range(0x110000):
        category = unicodedata.category(chr(code_point))
        if category[0] in "LM":
            letters.append(chr(code_point))
        elif category == "Nd":
            digits.append(chr(code_point))
    letters = "".join(letters)
    assert not set("\\]-^") & set(letters)  # nothing to escape in a character class
    others = "".join(digits) + tweet_text._HASHTAG_SPECIAL
    word = f"[{letters}{others}]"
    hashtag = re.compile(  # twitter-text's validHashtag
        f"(^|\ufe0e|\ufe0f|(?![{letters}{others}&\ud800-\udfff]).)([#\uff03])(?![\ufe0f\u20e3])"
        f"({word}*[{letters}]{word}*)",
        re.DOTALL,
    )
    return url, ascii_domain, hashtag


def url_matches_by_regex(text):
    url, _, _ = reference_patterns()
    return [
        (m.group(2), m.start(3), m.end(3), m.group(4) or "", m.group(5), m.group(7) is not None)
        for m in url.finditer(text)
    ]


def hashtags_by_regex(text):
    _, _, hashtag = reference_patterns()
    return [
        (m.group(3), m.start(2), m.end(3))
        for m in hashtag.finditer(text)
        if not text.startswith(("#", "\uff03", "://"), m.end())
    ]


@settings(max_examples=profiles.examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tweetish)
def test_url_scanner_matches_the_url_regex(text):
    assert [tuple(found) for found in tweet_text._url_candidates(text)] == url_matches_by_regex(text)
    _, ascii_domain, _ = reference_patterns()
    for found in tweet_text._url_candidates(text):
        by_regex = [m.span() for m in ascii_domain.finditer(found.domain)]
        assert tweet_text._ascii_domains(found.domain) == by_regex


@settings(max_examples=profiles.examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(tweetish, any_text))
def test_hashtag_scanner_matches_the_hashtag_regex(text):
    found = [(e.value, e.start, e.end) for e in tweet_text._hashtag_entities(text, check_url_overlap=False)]
    assert found == hashtags_by_regex(text)


def test_scanners_on_long_dotted_runs_match_the_regexes():
    # The shapes that make the regexes slow, at a size where they still finish.
    rng = random.Random(7)
    for text in ["a." * 150, "a." * 150 + "com", "\u65e5." * 100 + "com/x", "x_y." * 60 + "jp",
                 "http://" + "a-b." * 80, "".join(rng.choice(PIECES) for _ in range(400))]:
        assert [tuple(found) for found in tweet_text._url_candidates(text)] == url_matches_by_regex(text)


# --- Bounded time on adversarial input ---------------------------------------------------------------

ADVERSARIAL = {
    "hash signs": "#" * 10000,
    "dotted labels": "a." * 5000,
    "dotted labels, TLD at the end": "a." * 5000 + "com",
    "dotted CJK labels": "\u65e5." * 5000,
    "dotted IPs": "1.2.3.4." * 2000,
    "protocol and dotted labels": "http://" + "a." * 5000,
    "underscored labels": "a_b." * 3000,
    "hyphen run": "a-" * 5000 + ".com",
    "ASCII labels in a long domain": "a." * 2000 + "\u65e5.com/x",
    "at signs": "@" * 10000,
    "RT at signs": "RT@" * 5000,
    "dollar signs": "$" * 10000,
    "cashtags": "$a " * 5000,
    "hashtags": "#a " * 5000,
    "long path": "http://example.com/" + "!" * 10000,
    "nested parentheses": "http://example.com/" + "((a)" * 3000,
    "long query": "http://example.com/?" + "!" * 10000,
    "long label": "http://" + "a" * 10000,
    "long label with a port": "http://" + "a" * 3000 + ":" + "1" * 5000,
    "hyphens for a validator": "http://" + "a-" * 5000 + "!",
    "ZWJ chain": "\U0001f468\u200d" * 5000,
    "variation selectors": "\ufe0f" * 10000,
    "many URLs": "http://a.co/x " * 1000,
    "random pieces": "".join(random.Random(1).choice(PIECES) for _ in range(100000)),
}


@pytest.mark.parametrize("text", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_adversarial_input_takes_bounded_time(text):
    tweet_text._patterns()  # compiled once, not timed
    adapters._url_validation()
    started = time.perf_counter()
    extract_entities(text)
    weighted_length(text)
    adapters.is_valid_url(text)
    adapters.is_valid_url(text, require_protocol=False)
    tweet_text.is_valid_hashtag(text)
    adapters.is_valid_list(text)
    # Each takes well under 0.5 s here; a quadratic regex takes tens of seconds.
    assert time.perf_counter() - started < 5
