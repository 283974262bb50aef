"""Tweet text rules, after twitter-text: entities (hashtags, mentions, URLs,
cashtags) and the weighted length that decides whether a tweet fits.

A pure-Python port of the published twitter-text rules (its regular
expressions and config v3 weights, Apache-2.0), checked against the
twitter-text conformance suite vendored under tests/conformance/. This is
what the service uses: parse_tweet, extract_entities and is_valid_hashtag.
The rest of twitter-text's API that the suite calls (configs v1 and v2, URL
validation, the extract_* and other is_valid_* functions) is built on this
module's scanners in tests/conformance/twitter_text_adapters.py. Entity
indices are code-point offsets into the text as sent. Lengths are counted on
the NFC-normalised text, as twitter-text counts them; the parse ranges
(`valid_range_end`, `display_range_end`) are inclusive UTF-16 offsets into
the text as sent, because that is what twitter-text reports to clients.

Where Chirp departs from twitter-text, on purpose:
- Emoji are recognised by rule (UTS #51 sequences over Extended_Pictographic,
  at most four joined by ZWJ) rather than by a generated list of every
  emoji; hashtag letters are whatever this Python's Unicode database says.
- Blank text and lone surrogates are invalid tweets.
- A URL found without a protocol keeps its path only if its ASCII domain
  ends the run of labels, so that its indices always span its text.

Importing is cheap: the patterns (one of them built from ~1,600 TLDs) are
compiled on first use.
"""
from __future__ import annotations

import bisect
import functools
import json
import re
import unicodedata
from pathlib import Path
from typing import NamedTuple

# --- Configuration (twitter-text config/v3.json) ---------------------------------------------------


class TextConfig(NamedTuple):
    version: int
    max_weighted_tweet_length: int
    scale: int
    default_weight: int
    transformed_url_length: int
    ranges: tuple[tuple[int, int, int], ...]  # (first code point, last code point, weight)
    emoji_parsing_enabled: bool


_WEIGHT_100_RANGES = ((0, 4351, 100), (8192, 8205, 100), (8208, 8223, 100), (8242, 8247, 100))

# What Twitter counts today: Latin and friends weigh 1, CJK and most others 2, emoji sequences 2.
CONFIG_V3 = TextConfig(3, 280, 100, 200, 23, _WEIGHT_100_RANGES, True)

MAX_URL_LENGTH = 4096
MAX_TCO_SLUG_LENGTH = 40
MAX_DOMAIN_LABEL_LENGTH = 63

# --- Character classes (contents of [...], twitter-text's regexp/*.js) --------------------------

_SPACES = "\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_JS_WHITESPACE = "\t-\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"  # JavaScript's \s
_INVALID_CHARS = "\ufffe\ufeff\uffff"
_DIRECTIONAL = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_PUNCT_NO_DASHES = r"!'#%&()*+,\\./:;<=>?@\[\]^{|}~$"  # twitter-text's punct, less - and _
_PUNCT = _PUNCT_NO_DASHES + r"\-_"
_LATIN_ACCENTS = (
    "\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263\u0268"
    "\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = "\u0400-\u04ff"
_HASHTAG_SPECIAL = (  # allowed in a hashtag besides letters, marks and digits
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\xb7"
)
_NOT_DOMAIN = _SPACES + _INVALID_CHARS + _DIRECTIONAL
_INVALID_TWEET_CHARS = frozenset(_INVALID_CHARS)

_TLDS_PATH = Path(__file__).parent / "data" / "tlds.json"


class Entity(NamedTuple):
    kind: str  # "url", "hashtag", "mention" or "cashtag"
    value: str  # without its sigil
    start: int  # code points, end exclusive
    end: int
    list_slug: str = ""  # "/list-name" for an @user/list-name reference


# --- Patterns, compiled on first use -------------------------------------------------------------


def _trie_pattern(words: list[str]) -> str:
    """One alternation for many literals, as a trie, so that matching a TLD
    costs its length rather than the size of the list. A shorter word that
    is a prefix of a longer one is tried last, like twitter-text's reverse
    sorted lists."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word.lower():
            node = node.setdefault(char, {})
        node[""] = {}

    def render(node: dict) -> str:
        branches = [re.escape(char) + render(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        either = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{either})?" if "" in node else either

    return render(trie)


def _ranges_class(table: str) -> str:
    parts = []
    for item in table.split():
        first, _, last = item.partition("-")
        parts.append(f"\\U{int(first, 16):08x}" + (f"-\\U{int(last, 16):08x}" if last else ""))
    return "".join(parts)


class _Patterns:
    """The regexes, after twitter-text's (js/src/regexp/)."""

    def __init__(self) -> None:
        tlds = json.loads(_TLDS_PATH.read_text(encoding="utf-8"))
        tld_end = r"(?=[^0-9a-z@+\-]|\Z)"
        gtld = f"(?:{_trie_pattern(tlds['generic'])}{tld_end})"
        cctld = f"(?:{_trie_pattern(tlds['country'])}{tld_end})"
        punycode = r"(?:xn--[\-0-9a-z]+)"
        any_tld = f"(?:{gtld}|{cctld}|{punycode})"

        # A domain character is anything but punctuation, spaces and invisible marks. Each
        # label is atomic: it always runs to the next dot, so there is nothing to retry inside.
        char = f"[^{_PUNCT}{_NOT_DOMAIN}]"
        sub_char = f"[^{_PUNCT_NO_DASHES}{_NOT_DOMAIN}]"  # also _ and -
        name_char = f"[^{_PUNCT_NO_DASHES}_{_NOT_DOMAIN}]"  # also -
        subdomain = rf"(?>{char}(?:{sub_char}*{char})?\.)"
        domain_name = rf"(?>{char}(?:{name_char}*{char})?\.)"
        domain = f"(?:{subdomain}*{domain_name}{any_tld})"

        preceding = f"(?-i:[^A-Za-z0-9@\uff20$#\uff03{_INVALID_CHARS}]|[{_DIRECTIONAL}]|^)"
        path_char = rf"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN_ACCENTS}]"
        parens = rf"\((?:{path_char}+|(?:{path_char}*\({path_char}+\){path_char}*))\)"
        path_end = rf"(?:[+\-a-z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]|(?:{parens}))"
        path = f"(?:(?:{path_char}*(?:{parens}{path_char}*)*{path_end})|(?:@{path_char}+/))"
        query_char = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
        query_end = r"[a-z0-9\-_&=#/]"
        query = rf"\?{query_char}*{query_end}"

        # twitter-text's URL regex. It is not run as one: _UrlScanner evaluates it position by
        # position with the domain part memoised (the tests hold the two equal).
        self.url_source = (
            f"(({preceding})"  # 2: the character before
            "("  # 3: the URL
            "(https?://)?"  # 4: protocol
            f"({domain})"  # 5: domain
            "(?::([0-9]+))?"  # 6: port
            f"(/{path}*+)?"  # 7: path
            f"({query})?"  # 8: query
            "))"
        )
        self.protocol = re.compile("https?://", re.IGNORECASE)
        self.label_run = re.compile(f"{sub_char}+")
        self.tld = re.compile(any_tld, re.IGNORECASE)
        self.after_domain = re.compile(f"(?::([0-9]+))?(/{path}*+)?({query})?", re.IGNORECASE)
        ascii_label_char = rf"[\-a-z0-9{_LATIN_ACCENTS}]"
        # twitter-text's validAsciiDomain, run by _ascii_domains with the TLD pattern above.
        self.ascii_domain_source = rf"(?>{ascii_label_char}+\.)+{any_tld}"
        self.ascii_label = re.compile(rf"{ascii_label_char}+\.", re.IGNORECASE)
        self.ascii_labels = re.compile(rf"(?:{ascii_label_char}++\.)*+{ascii_label_char}*+", re.IGNORECASE)
        self.tco = re.compile(rf"https?://t\.co/([a-z0-9]+)(?:{query})?", re.IGNORECASE)

        self.mention = re.compile(
            "((?:^|[^a-zA-Z0-9_!#$%&*@\uff20]|(?:^|[^a-zA-Z0-9_+~.\\-])(?:rt|RT|rT|Rt):?))"
            "([@\uff20])([a-zA-Z0-9_]{1,20})(/[a-zA-Z][a-zA-Z0-9_\\-]{0,24})?"
        )
        self.mention_end = re.compile(f"[@\uff20{_LATIN_ACCENTS}]|://")
        self.hash_sign = re.compile("[#\uff03]")  # hashtags are read by _hashtag_entities

        self.cashtag = re.compile(
            f"(^|[{_SPACES}])(\\$)([a-zA-Z]{{1,6}}(?:[._][a-zA-Z]{{1,2}})?)"
            f"(?=\\Z|[{_JS_WHITESPACE}]|[{_PUNCT}])"
        )

        pictographic = _ranges_class(_PICTOGRAPHIC)
        element = f"(?:[\xa9\xae\u2122\u265f]\ufe0f|[{pictographic}](?:\ufe0f|[\U0001f3fb-\U0001f3ff])?)"
        self.emoji = re.compile(
            "(?:[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
            "|[#*0-9]\ufe0f?\u20e3"  # a keycap
            "|\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f"  # a subdivision flag
            # An emoji, maybe toned, maybe joined by ZWJs to up to three more (as the longest
            # standard sequences, families and couples, are): a longer chain counts as several.
            f"|{element}(?:\u200d{element}){{0,3}}"
            "|\ufe0f)"  # a stray emoji presentation selector, as twitter-text counts it
        )


@functools.cache
def _patterns() -> _Patterns:
    return _Patterns()


# --- Extraction ------------------------------------------------------------------------------------


def _utf16_length(text: str) -> int:
    return len(text) + sum(1 for char in text if char > "\uffff")


def _label_fits(label: str) -> bool:
    """RFC 3490 label length, counted on the punycode form: 1 to 63."""
    if len(label) > MAX_DOMAIN_LABEL_LENGTH:  # punycode is never shorter than the label
        return False
    parts = []
    for part in re.split("[.\u3002\uff0e\uff61]", label):
        if any(char > "\x7e" for char in part):
            try:
                part = "xn--" + part.encode("punycode").decode("ascii")
            except UnicodeError:
                return False
        parts.append(part)
    return 1 <= len(".".join(parts)) <= MAX_DOMAIN_LABEL_LENGTH


def _url_fits(url: str, protocol: str, domain: str) -> bool:
    if domain.startswith("xn--") and not _ascii_domains(domain):
        return False  # a punycode domain has nothing but ASCII
    if not all(_label_fits(label) for label in domain.split(".")):
        return False
    return len(protocol) + _utf16_length(url) <= MAX_URL_LENGTH


class _Url(NamedTuple):
    before: str
    start: int
    end: int
    protocol: str
    domain: str
    has_path: bool


class _UrlScanner:
    """Finds what twitter-text's URL regex finds, in the same order, in time
    linear in the text. Run as one regex it retries every label of a long
    dotted run from every label start (quadratic: seconds for 'a.' * 5000);
    here the domain found from each label start is computed once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.patterns = _patterns()
        runs = [found.span() for found in self.patterns.label_run.finditer(text)]
        self.run_starts = [start for start, _ in runs]
        self.run_ends = [end for _, end in runs]
        self.last_underscore: dict[int, int] = {}
        self.tld_ends: dict[int, int] = {}
        self.domain_ends: dict[int, int] = {}  # label start -> where its domain ends, -1: none

    def url_at(self, start: int, before: str) -> _Url | None:
        protocol = self.patterns.protocol.match(self.text, start)
        domain_start = protocol.end() if protocol else start
        domain_end = self._domain_end(domain_start)
        if domain_end < 0:
            return None  # (without its protocol, "http" is no domain: a label ends at a dot)
        rest = self.patterns.after_domain.match(self.text, domain_end)
        assert rest is not None  # every part of after_domain is optional: it always matches
        return _Url(before, start, rest.end(), protocol.group(0) if protocol else "",
                    self.text[domain_start:domain_end], rest.group(2) is not None)

    def _label(self, start: int) -> tuple[int, bool] | None:
        """The label at start, if it is one: where it ends (at a dot) and
        whether it may be the name before the TLD (no underscore)."""
        text = self.text
        run = bisect.bisect_right(self.run_starts, start) - 1
        if run < 0 or start >= self.run_ends[run]:
            return None
        end = self.run_ends[run]
        if text[start] in "_-" or text[end - 1] in "_-" or text[end:end + 1] != ".":
            return None
        if run not in self.last_underscore:
            self.last_underscore[run] = text.rfind("_", self.run_starts[run], end)
        return end, self.last_underscore[run] < start

    def _tld_end(self, start: int) -> int:
        if start not in self.tld_ends:
            found = self.patterns.tld.match(self.text, start)
            self.tld_ends[start] = found.end() if found else -1
        return self.tld_ends[start]

    def _domain_end(self, start: int) -> int:
        """subdomain* domain_name tld, greedy: the last label (from here on)
        that is followed by a TLD."""
        label = self._label(start)
        if label is None:
            return -1
        end, may_be_name = label
        later = self._domain_end_from_label(end + 1)
        if later >= 0 or not may_be_name:
            return later
        return self._tld_end(end + 1)

    def _domain_end_from_label(self, start: int) -> int:
        known = self.domain_ends
        chain = []
        while start not in known:
            label = self._label(start)
            if label is None:
                known[start] = -1
                break
            chain.append((start, label))
            start = label[0] + 1
        result = known[start]
        for label_start, (end, may_be_name) in reversed(chain):
            if result < 0 and may_be_name:
                result = self._tld_end(end + 1)
            known[label_start] = result
        return result


_NOT_BEFORE_URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@\uff20$#\uff03"
                            + _INVALID_CHARS)


def _url_candidates(text: str):
    """twitter-text's URL regex matches, scanning as a regex search does: a
    URL follows a character that may precede one, or starts the text."""
    scanner = _UrlScanner(text)
    position = 0
    while position < len(text):
        found = None
        if text[position] not in _NOT_BEFORE_URL:
            found = scanner.url_at(position + 1, text[position])
        if found is None and position == 0:
            found = scanner.url_at(0, "")
        if found is None:
            position += 1
        else:
            yield found
            position = found.end


def _ascii_domains(domain: str) -> list[tuple[int, int]]:
    """Where twitter-text's validAsciiDomain regex finds ASCII-only domains
    within a domain: (greedy) dotted labels, then a TLD. Where none starts,
    none starts anywhere in the same run of dotted labels either, so the
    search skips the run rather than retrying it from every label."""
    patterns = _patterns()
    found = []
    position = 0
    while position < len(domain):
        label_ends = []
        cursor = position
        while label := patterns.ascii_label.match(domain, cursor):
            cursor = label.end()
            label_ends.append(cursor)
        for tld_start in reversed(label_ends):
            tld = patterns.tld.match(domain, tld_start)
            if tld:
                found.append((position, tld.end()))
                position = tld.end()
                break
        else:
            labels = patterns.ascii_labels.match(domain, position)
            assert labels is not None  # ascii_labels matches the empty string too
            position = max(position + 1, labels.end())
    return found


def _url_entities(text: str) -> list[Entity]:
    if not text or "." not in text:
        return []
    patterns = _patterns()
    urls: list[Entity] = []
    for found in _url_candidates(text):
        url, start, end, domain = text[found.start:found.end], found.start, found.end, found.domain
        if not _url_fits(url, found.protocol or "https://", domain):
            continue
        if not found.protocol:
            # Without a protocol only ASCII domains count, and not right after - _ . or /.
            if found.before and found.before in "-_./":
                continue
            last = None
            for ascii_start, ascii_end in _ascii_domains(domain):
                last = Entity("url", domain[ascii_start:ascii_end], start + ascii_start, start + ascii_end)
                urls.append(last)
            # The path belongs to the last of them, if it ends the domain. (twitter-text appends
            # it even to one that does not, and then its indices do not span its text.)
            if last is not None and found.has_path and last.end == start + len(domain):
                urls[-1] = last._replace(value=url.replace(domain, last.value, 1), end=end)
        else:
            tco = patterns.tco.match(url)
            if tco:
                # A t.co link ends after its slug (and query); nothing more is part of it.
                if len(tco.group(1)) > MAX_TCO_SLUG_LENGTH:
                    continue
                url, end = tco.group(0), start + len(tco.group(0))
            urls.append(Entity("url", url, start, end))
    return urls


def _mention_entities(text: str) -> list[Entity]:
    if not text or ("@" not in text and "\uff20" not in text):
        return []
    patterns = _patterns()
    mentions = []
    for found in patterns.mention.finditer(text):
        if patterns.mention_end.match(text, found.end()):
            continue  # an email address, @user@host, @http://, or a name running into accents
        handle, slug = found.group(3), found.group(4) or ""
        start = found.start(2)
        mentions.append(Entity("mention", handle, start, start + 1 + len(handle) + len(slug), slug))
    return mentions


def _is_hashtag_char(char: str) -> bool:
    """twitter-text's hashtagAlphaNumeric: a letter, mark or decimal digit
    (as this Python's Unicode database has them), or one of a few others."""
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Nd" or char in _HASHTAG_SPECIAL


def _may_precede_hashtag(char: str) -> bool:
    # Emoji presentation selectors are marks, yet "\u270c\ufe0f#tag" has a hashtag.
    if char in "\ufe0e\ufe0f":
        return True
    return not (_is_hashtag_char(char) or char == "&" or "\ud800" <= char <= "\udfff")


def _hashtag_entities(text: str, check_url_overlap: bool = True) -> list[Entity]:
    """twitter-text's hashtag regex (a hash sign at the start or after a
    character that may precede one, then a run of hashtag characters with a
    letter or mark in it), read sign by sign: every match starts at one."""
    if not text or ("#" not in text and "\uff03" not in text):
        return []
    tags = []
    resume = 0  # where a regex search would go on from: the end of the last match
    for sign in _patterns().hash_sign.finditer(text):
        start = sign.start()
        if not (start == resume == 0 or (start > resume and _may_precede_hashtag(text[start - 1]))):
            continue
        if text[start + 1:start + 2] in ("\ufe0f", "\u20e3"):
            continue  # a keycap emoji
        end = start + 1
        has_letter = False
        while end < len(text) and _is_hashtag_char(text[end]):
            has_letter = has_letter or unicodedata.category(text[end])[0] in "LM"
            end += 1
        if not has_letter:
            continue
        resume = end
        if not text.startswith(("#", "\uff03", "://"), end):
            tags.append(Entity("hashtag", text[start + 1:end], start, end))
    if check_url_overlap and tags:
        urls = _url_entities(text)
        if urls:
            tags = [entity for entity in _without_overlaps(tags + urls) if entity.kind == "hashtag"]
    return tags


def _cashtag_entities(text: str) -> list[Entity]:
    if not text or "$" not in text:
        return []
    return [
        Entity("cashtag", found.group(3), found.start(2), found.end(3))
        for found in _patterns().cashtag.finditer(text)
    ]


def _without_overlaps(entities: list[Entity]) -> list[Entity]:
    """Sorted by start; an entity overlapping the one kept before it goes
    (in practice: a hashtag or mention inside a URL)."""
    kept: list[Entity] = []
    for entity in sorted(entities, key=lambda e: e.start):
        if not kept or kept[-1].end <= entity.start:
            kept.append(entity)
    return kept


def extract_entity_list(text: str) -> list[Entity]:
    """All entities in text order, overlaps resolved as twitter-text's
    extractEntitiesWithIndices does. @user/list references are included,
    with their list_slug."""
    return _without_overlaps(
        _url_entities(text) + _mention_entities(text) + _hashtag_entities(text, check_url_overlap=False)
        + _cashtag_entities(text)
    )


def extract_entities(text: str) -> dict:
    """The `entities` of a tweet (see the API contract), with code-point
    indices into `text` as sent. A mention is only a handle: the caller adds
    `user_id`. An @user/list reference is not a mention."""
    entities: dict[str, list] = {"hashtags": [], "mentions": [], "urls": [], "cashtags": []}
    for entity in extract_entity_list(text):
        indices = [entity.start, entity.end]
        if entity.kind == "url":
            entities["urls"].append({"url": entity.value, "indices": indices})
        elif entity.kind == "hashtag":
            entities["hashtags"].append({"tag": entity.value, "indices": indices})
        elif entity.kind == "cashtag":
            entities["cashtags"].append({"tag": entity.value, "indices": indices})
        elif not entity.list_slug:
            entities["mentions"].append({"handle": entity.value, "indices": indices})
    return entities


# --- Length and validity -------------------------------------------------------------------------


class ParseResult(NamedTuple):
    """What twitter-text's parseTweet reports."""

    weighted_length: int
    valid: bool
    permillage: int
    display_range_start: int
    display_range_end: int  # inclusive, UTF-16 units into the text as sent
    valid_range_start: int
    valid_range_end: int  # inclusive: where the part that fits ends


def _is_invalid_char(char: str) -> bool:
    # Twitter rejects U+FFFE, U+FEFF and U+FFFF; a lone surrogate is not text at all.
    return char in _INVALID_TWEET_CHARS or "\ud800" <= char <= "\udfff"


def _char_weight(code_point: int, config: TextConfig) -> int:
    for first, last, weight in config.ranges:
        if first <= code_point <= last:
            return weight
    return config.default_weight


def parse_tweet(text: str, config: TextConfig = CONFIG_V3) -> ParseResult:
    """twitter-text's parseTweet: the weighted length of the NFC-normalised
    text (a URL weighs transformed_url_length, an emoji sequence
    default_weight, any other code point its range's weight), whether it is
    a valid tweet, and how much of it fits. Blank text is never valid."""
    normalized = unicodedata.normalize("NFC", text)
    urls = {e.start: e.end for e in _url_entities(normalized)}
    emoji = {}
    if config.emoji_parsing_enabled:
        emoji = {found.start(): found.end() for found in _patterns().emoji.finditer(normalized)}
    limit = config.max_weighted_tweet_length * config.scale
    weighted = valid_units = position = 0
    has_invalid = False
    while position < len(normalized):
        end = urls.get(position)
        if end is not None:
            weighted += config.transformed_url_length * config.scale
        else:
            end = emoji.get(position)
            if end is not None:
                weighted += config.default_weight
            else:
                end = position + 1
                weighted += _char_weight(ord(normalized[position]), config)
            has_invalid = has_invalid or _is_invalid_char(normalized[position])
        if not has_invalid and weighted <= limit:
            valid_units += _utf16_length(normalized[position:end])
        position = end
    length = weighted // config.scale
    normalization_offset = _utf16_length(text) - _utf16_length(normalized)
    return ParseResult(
        weighted_length=length,
        valid=not has_invalid and 0 < length <= config.max_weighted_tweet_length and not text.isspace(),
        permillage=length * 1000 // config.max_weighted_tweet_length,
        display_range_start=0,
        display_range_end=_utf16_length(text) - 1,
        valid_range_start=0,
        valid_range_end=valid_units + normalization_offset - 1,
    )


def is_valid_hashtag(text: str) -> bool:
    """"#tag" and nothing else."""
    return bool(text) and [e.value for e in _hashtag_entities(text)] == [text[1:]]


# --- Emoji ---------------------------------------------------------------------------------------
# Hex code-point ranges of Extended_Pictographic (Unicode emoji-data, UTS #51), less the four that are
# emoji only with U+FE0F after them: (c), (r), TM and the chess pawn. Python's unicodedata lacks it.

_PICTOGRAPHIC = (
    "203C 2049 2139 2194-2199 21A9-21AA 231A-231B 2328 2388 23CF 23E9-23F3 23F8-23FA 24C2 25AA-25AB "
    "25B6 25C0 25FB-25FE 2600-2605 2607-2612 2614-265E 2660-2685 2690-2705 2708-2712 2714 2716 271D "
    "2721 2728 2733-2734 2744 2747 274C 274E 2753-2755 2757 2763-2767 2795-2797 27A1 27B0 27BF "
    "2934-2935 2B05-2B07 2B1B-2B1C 2B50 2B55 3030 303D 3297 3299 1F000-1F0FF 1F10D-1F10F 1F12F "
    "1F16C-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AD-1F1E5 1F201-1F20F 1F21A 1F22F 1F232-1F23A "
    "1F23C-1F23F 1F249-1F3FA 1F400-1F53D 1F546-1F64F 1F680-1F6FF 1F774-1F77F 1F7D5-1F7FF "
    "1F80C-1F80F 1F848-1F84F 1F85A-1F85F 1F888-1F88F 1F8AE-1F8FF 1F90C-1F93A 1F93C-1F945 "
    "1F947-1FAFF 1FC00-1FFFD"
)
