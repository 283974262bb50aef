"""The rest of twitter-text's API, as its conformance suite (vendored in
tests/conformance/twitter-text/) calls it, built on the scanners of
chalicelib.tweets.tweet_text.

The service needs only tweet_text's parse_tweet (under config v3),
extract_entities and is_valid_hashtag, so what only the tests call lives
here: configs v1 and v2, twitter-text's URL validation (isValidUrl), the
extract_* functions in the shapes the suite expects, and the other is_valid_*
and length functions. They reach into tweet_text's private scanners, which
is what they adapt.
"""
from __future__ import annotations

import functools
import re

from chalicelib.tweets.tweet_text import (
    _CYRILLIC,
    _DIRECTIONAL,
    _SPACES,
    _WEIGHT_100_RANGES,
    CONFIG_V3,
    TextConfig,
    _cashtag_entities,
    _hashtag_entities,
    _mention_entities,
    _patterns,
    _url_entities,
    parse_tweet,
)

# --- Configurations (twitter-text config/v1.json, v2.json; v3 is tweet_text's) ----------------------

# The classic 140-character count: every code point weighs 1, a URL 23.
CONFIG_V1 = TextConfig(1, 140, 1, 1, 23, (), False)
# Weighted like v3, but an emoji sequence weighs what its code points do.
CONFIG_V2 = TextConfig(2, 280, 100, 200, 23, _WEIGHT_100_RANGES, False)


# --- Extractors ------------------------------------------------------------------------------------


@functools.cache
def _reply_pattern() -> re.Pattern[str]:
    """twitter-text's validReply: blanks, then @handle."""
    return re.compile(f"[{_SPACES}{_DIRECTIONAL}]*[@\uff20]([a-zA-Z0-9_]{{1,20}})")


def extract_mentions_or_lists_with_indices(text: str) -> list[dict]:
    return [
        {"screen_name": e.value, "list_slug": e.list_slug, "indices": [e.start, e.end]}
        for e in _mention_entities(text)
    ]


def extract_mentions_with_indices(text: str) -> list[dict]:
    return [
        {"screen_name": e.value, "indices": [e.start, e.end]}
        for e in _mention_entities(text)
        if not e.list_slug
    ]


def extract_mentions(text: str) -> list[str]:
    return [e.value for e in _mention_entities(text) if not e.list_slug]


def extract_reply(text: str) -> str | None:
    """The handle a tweet starts with (after blanks), if it is a reply."""
    if not text:
        return None
    found = _reply_pattern().match(text)
    if found is None or _patterns().mention_end.match(text, found.end()):
        return None
    return found.group(1)


def extract_urls_with_indices(text: str) -> list[dict]:
    return [{"url": e.value, "indices": [e.start, e.end]} for e in _url_entities(text)]


def extract_urls(text: str) -> list[str]:
    return [e.value for e in _url_entities(text)]


def extract_hashtags_with_indices(text: str) -> list[dict]:
    return [{"hashtag": e.value, "indices": [e.start, e.end]} for e in _hashtag_entities(text)]


def extract_hashtags(text: str) -> list[str]:
    return [e.value for e in _hashtag_entities(text)]


def extract_cashtags_with_indices(text: str) -> list[dict]:
    return [{"cashtag": e.value, "indices": [e.start, e.end]} for e in _cashtag_entities(text)]


def extract_cashtags(text: str) -> list[str]:
    return [e.value for e in _cashtag_entities(text)]



# --- Length and validity -------------------------------------------------------------------------


def weighted_length(text: str, config: TextConfig = CONFIG_V3) -> int:
    """The length Twitter counts against the limit: 280 under config v3."""
    return parse_tweet(text, config).weighted_length


def is_valid_tweet(text: str, config: TextConfig = CONFIG_V3) -> bool:
    """Not blank, no invalid characters, and within the weighted limit."""
    return isinstance(text, str) and parse_tweet(text, config).valid


def is_valid_username(text: str) -> bool:
    """"@handle" and nothing else."""
    return bool(text) and extract_mentions(text) == [text[1:]]


def is_valid_list(text: str) -> bool:
    """"@handle/list-slug" and nothing else."""
    found = _patterns().mention.fullmatch(text or "")
    return found is not None and found.group(1) == "" and bool(found.group(4))


def is_valid_url(url: str, require_protocol: bool = True) -> bool:
    """twitter-text's isValidUrl (with unicode domains): an http(s) URL, or
    with require_protocol=False, also one without a scheme."""
    if not url:
        return False
    patterns = _url_validation()
    parts = patterns.parts.fullmatch(url)
    if parts is None:
        return False
    scheme, authority, path, query, fragment = parts.groups()
    if require_protocol and not (
        scheme is not None
        and _whole_first_match(patterns.scheme, scheme)
        and patterns.http.fullmatch(scheme)
    ):
        return False
    return (
        _whole_first_match(patterns.path, path)
        and (not query or _whole_first_match(patterns.query_or_fragment, query))
        and (not fragment or _whole_first_match(patterns.query_or_fragment, fragment))
        and _whole_first_match(patterns.authority, authority)
    )


# --- URL validation patterns -------------------------------------------------------------------------


@functools.cache
def _url_validation() -> _UrlValidation:
    return _UrlValidation()


class _UrlValidation:
    """twitter-text's isValidUrl patterns: RFC 3986 parts, unencoded
    international domains allowed."""

    def __init__(self) -> None:
        unreserved = rf"[a-z{_CYRILLIC}0-9\-._~]"
        pct_encoded = r"%[0-9a-f]{2}"
        sub_delims = r"[!$&'()*+,;=]"
        pchar = f"(?:{unreserved}|{pct_encoded}|{sub_delims}|[:|@])"
        userinfo = f"(?:{unreserved}|{pct_encoded}|{sub_delims}|:)*"
        dec_octet = r"(?:[0-9]|(?:[1-9][0-9])|(?:1[0-9]{2})|(?:2[0-4][0-9])|(?:25[0-5]))"
        ipv4 = rf"(?:{dec_octet}(?:\.{dec_octet}){{3}})"
        ipv6 = r"(?:\[[a-f0-9:\.]+\])"
        wide = r"[^\x00-\x7f]"
        subdomain_segment = rf"(?:(?:[a-z0-9]|{wide})(?:(?:[a-z0-9_\-]|{wide})*(?:[a-z0-9]|{wide}))?)"
        domain_segment = rf"(?:(?:[a-z0-9]|{wide})(?:(?:[a-z0-9\-]|{wide})*(?:[a-z0-9]|{wide}))?)"
        domain_tld = rf"(?:(?:[a-z]|{wide})(?:(?:[a-z0-9\-]|{wide})*(?:[a-z0-9]|{wide}))?)"
        # Segments are atomic: each runs to its dot, so retrying inside one is wasted time.
        domain = rf"(?:(?>{subdomain_segment}\.)*(?>{domain_segment}\.)(?>{domain_tld}))"
        host = f"(?:{ipv4}|{ipv6}|{domain})"

        flags = re.IGNORECASE
        # RFC 3986 appendix B, as twitter-text modifies it; "." stops at line ends, as in JavaScript.
        self.parts = re.compile(
            r"(?:([^:/?#]+)://)?([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#([^\n\r\u2028\u2029]*))?", flags
        )
        self.scheme = re.compile(r"(?:[a-z][a-z0-9+\-.]*)", flags)
        self.http = re.compile(r"https?", flags)
        self.authority = re.compile(f"(?:({userinfo})@)?({host})(?::([0-9]{{1,5}}))?", flags)
        self.path = re.compile(f"(/{pchar}*)*", flags)
        self.query_or_fragment = re.compile(f"({pchar}|/|\\?)*", flags)


def _whole_first_match(pattern: re.Pattern, value: str) -> bool:
    """twitter-text's isValidMatch: the first match a search finds must be
    all of the value. One that starts later is shorter, so only a match at
    the start can be it, and only that one is tried."""
    found = pattern.match(value)
    return found is not None and found.end() == len(value)
