"""Pure moderation logic: prompt blocklists, ban durations, timezones and safe echoing of user text.

Nothing here touches Discord or the database. The storage layer keeps blocklist rows; the cogs
turn them into a :class:`Blocklist` and call :meth:`Blocklist.check` before a job is deferred, so a
blocked prompt never reaches the API.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import logging
import time
import unicodedata
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import regex

from bot import texts
from bot.errors import RefusedError, UserInputError

__all__ = [
    "CHECK_TIMEOUT_S",
    "MAX_DURATION",
    "MAX_REGEX_ENTRIES",
    "MAX_REGEX_LENGTH",
    "MAX_WORD_ENTRIES",
    "MAX_WORD_LENGTH",
    "MIN_DURATION",
    "BlockMatch",
    "Blocklist",
    "BlocklistEntry",
    "CompiledEntry",
    "EntryKind",
    "compile_entry",
    "ensure_room",
    "find_catastrophic_shape",
    "format_duration",
    "normalise",
    "parse_duration",
    "sanitize_for_display",
    "validate_timezone",
]

log = logging.getLogger(__name__)

EntryKind = Literal["word", "regex"]

MAX_WORD_LENGTH = 100
MAX_REGEX_LENGTH = 200
# Entries a server's list holds. Every regex runs on every prompt, so their number bounds a
# check's work; words share one alternation and cost little each.
MAX_REGEX_ENTRIES = 20
MAX_WORD_ENTRIES = 500
# One budget for a whole check: every entry, the prompt and the negative prompt. Running out
# refuses the prompt rather than letting it through. The check runs on a worker thread
# (bot/policy.py), so this bounds a thread's time, never the event loop's.
CHECK_TIMEOUT_S = 0.25
# Per add-time probe: a pattern that cannot answer in time on our probes would refuse real
# prompts of that shape, so it is turned away while the admin is still there to fix it.
PROBE_TIMEOUT_S = 0.05
# Probe strings are as long as the longest prompt a model accepts (Imagen 4 Preview: 4,000).
PROBE_LENGTH = 4000

MIN_DURATION = datetime.timedelta(minutes=1)
MAX_DURATION = datetime.timedelta(days=365)


class _Match(Protocol):
    def group(self, index: int = 0, /) -> str: ...

    def start(self, index: int = 0, /) -> int: ...

    def end(self, index: int = 0, /) -> int: ...


class _Pattern(Protocol):
    """The part of ``regex.Pattern`` this module uses (the package ships no type stubs)."""

    @property
    def pattern(self) -> str: ...

    def search(self, string: str, *, timeout: float | None = None) -> _Match | None: ...


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

# Look-alike letters mapped to the Latin letter they are mistaken for. Deliberately small and
# explicit: only letters whose shapes are near-identical in Discord's fonts, and no leetspeak
# (1 -> i, 3 -> e, ...), which would turn ordinary numbers into words and cause false positives.
# Uppercase forms are mapped *before* casefolding because casefolding can change the shape:
# Greek capital Nu "Ν" looks like N, but its lowercase "ν" looks like v.
_UPPER_CONFUSABLES = {
    # Cyrillic capitals
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D",
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}  # fmt: skip
_LOWER_CONFUSABLES = {
    # Cyrillic small letters
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    # Latin small script g (IPA), which NFKC leaves alone
    "ɡ": "g",
    # Greek small letters
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x",
}  # fmt: skip

# Characters Discord markdown uses for emphasis, strikethrough, spoilers (||x||), code and quotes,
# plus the backslash that escapes them. They split a word on screen without changing how it reads
# (or how an image model reads it), so "b*a*d", "||bad||" and "`bad`" must all read as "bad".
_MARKDOWN_CHARS = "*_~|`>\\"

# Blank-looking letters (Hangul fillers) and the braille blank render as a space; treat them as one
# so they neither hide a word nor glue two words together.
_BLANK_LOOKALIKES = "\u115f\u1160\u3164\uffa0\u2800"


def _build_pre_casefold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(k): v for k, v in _UPPER_CONFUSABLES.items()}
    for cp in (*range(0x00, 0x20), *range(0x7F, 0xA0)):
        # Control characters: whitespace ones (tab, newline, ...) become a space so they still
        # separate words; the rest (NUL, escape, ...) are invisible and are dropped.
        table[cp] = " " if chr(cp).isspace() else None
    for ch in _BLANK_LOOKALIKES:
        table[ord(ch)] = " "
    return table


_PRE_CASEFOLD = _build_pre_casefold_table()
_POST_CASEFOLD: dict[int, str | None] = {
    **{ord(k): v for k, v in _LOWER_CONFUSABLES.items()},
    **{ord(ch): None for ch in _MARKDOWN_CHARS},
}
# Format characters (Cf: zero-width space/joiners, word joiner, BOM, soft hyphen, bidi overrides
# and isolates, tag characters), every combining mark (M: accents, variation selectors, the
# combining grapheme joiner) and lone surrogates (Cs) are invisible or attach to the previous
# letter; none of them may split or disguise a word.
_INVISIBLE = regex.compile(r"[\p{Cf}\p{M}\p{Cs}]+")


def _normalise_once(text: str) -> str:
    # NFKC folds compatibility forms onto plain letters: fullwidth "ｂａｄ", mathematical
    # alphanumerics "𝐛𝐚𝐝", ligatures "ﬁ", circled and superscript letters.
    s = unicodedata.normalize("NFKC", text)
    s = s.translate(_PRE_CASEFOLD)
    # casefold rather than lower: it also folds "ß" to "ss" and final sigma, as matching needs.
    s = s.casefold()
    # NFKD splits accented letters into base letter + combining mark so the marks can be dropped:
    # "bád" and "b̶a̶d̶" read as "bad".
    s = unicodedata.normalize("NFKD", s)
    s = _INVISIBLE.sub("", s)
    s = s.translate(_POST_CASEFOLD)
    # One space between words, none at the ends: phrase entries then only need to match single
    # spaces, and newlines or runs of spaces cannot split a phrase.
    return " ".join(s.split())


def normalise(text: str) -> str:
    """Fold ``text`` to the form blocklist words are matched in.

    Case, look-alike letters, accents, invisible characters and markdown cannot disguise a word;
    the result is stable (``normalise(normalise(x)) == normalise(x)``).
    """
    s = _normalise_once(text)
    # Unicode normalisation and casefolding do not commute for a few rare characters; a second pass
    # reaches the fixed point, which keeps matching consistent between stored words and prompts.
    for _ in range(3):
        again = _normalise_once(s)
        if again == s:
            break
        s = again
    return s


# --------------------------------------------------------------------------------------------
# Blocklist entries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlocklistEntry:
    """One stored blocklist row: a word/phrase or a regular expression."""

    kind: EntryKind
    pattern: str
    id: int | None = None


@dataclass(frozen=True, slots=True)
class CompiledEntry:
    """A validated entry, ready to match.

    ``word`` is the normalised word or phrase for ``kind == "word"``; ``regex`` the compiled pattern
    for ``kind == "regex"``.
    """

    entry: BlocklistEntry
    word: str | None = None
    regex: _Pattern | None = field(default=None, compare=False)

    @property
    def kind(self) -> EntryKind:
        return self.entry.kind


def _word_regex_source(word: str) -> str:
    """Regex source for a normalised word or phrase: flexible whitespace between its parts."""
    return r"\s+".join(regex.escape(part) for part in word.split(" "))


def _bounded(body: str) -> str:
    # Look-arounds instead of \b so that entries starting or ending with punctuation ("c++")
    # still need a non-word character (or the text edge) on each side: "ass" never hits "class".
    return rf"(?<!\w)(?:{body})(?!\w)"


def compile_entry(
    kind: str, pattern: str, *, entry_id: int | None = None, probe: bool = True
) -> CompiledEntry:
    """Validate and compile one blocklist entry, raising :class:`UserInputError` when it is unfit.

    ``probe`` runs a new regex against adversarial strings under the timeout; it is for add time.
    Entries loaded from storage already passed it and skip it (the match-time timeout still holds).
    """
    if kind == "word":
        return _compile_word(pattern, entry_id)
    if kind == "regex":
        return _compile_regex(pattern, entry_id, probe=probe)
    raise UserInputError(texts.BLOCKLIST_KIND())


def _compile_word(pattern: str, entry_id: int | None) -> CompiledEntry:
    if len(pattern) > MAX_WORD_LENGTH:
        raise UserInputError(texts.BLOCKLIST_WORD_TOO_LONG(limit=MAX_WORD_LENGTH))
    word = normalise(pattern)
    if not word:
        raise UserInputError(texts.BLOCKLIST_WORD_BLANK())
    if len(word) > MAX_WORD_LENGTH:
        raise UserInputError(texts.BLOCKLIST_WORD_TOO_LONG(limit=MAX_WORD_LENGTH))
    entry = BlocklistEntry("word", pattern, entry_id)
    compiled: _Pattern = regex.compile(_bounded(_word_regex_source(word)), regex.IGNORECASE)
    return CompiledEntry(entry, word=word, regex=compiled)


def _compile_regex(pattern: str, entry_id: int | None, *, probe: bool) -> CompiledEntry:
    if not pattern:
        raise UserInputError(texts.BLOCKLIST_REGEX_EMPTY())
    if len(pattern) > MAX_REGEX_LENGTH:
        raise UserInputError(texts.BLOCKLIST_REGEX_TOO_LONG(limit=MAX_REGEX_LENGTH))
    try:
        compiled: _Pattern = regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        # regex.error carries a short reason ("missing )") and the position; the full message may
        # echo the pattern, which we do not need to repeat back.
        reason = str(getattr(exc, "msg", "") or "syntax error")[:80]
        position = getattr(exc, "pos", None)
        message = (
            texts.BLOCKLIST_REGEX_INVALID_AT(reason=reason, position=position)
            if isinstance(position, int)
            else texts.BLOCKLIST_REGEX_INVALID(reason=reason)
        )
        raise UserInputError(message) from None
    except (ValueError, OverflowError, RecursionError) as exc:
        raise UserInputError(texts.BLOCKLIST_REGEX_INVALID(reason=type(exc).__name__)) from None
    problem = find_catastrophic_shape(pattern)
    if problem is not None:
        raise UserInputError(texts.BLOCKLIST_REGEX_SLOW_SHAPE(problem=problem))
    if _matches_empty(compiled):
        raise UserInputError(texts.BLOCKLIST_REGEX_MATCHES_EMPTY())
    if probe:
        slow = _probe(compiled)
        if slow is not None:
            raise UserInputError(texts.BLOCKLIST_REGEX_SLOW_PROBE())
    return CompiledEntry(BlocklistEntry("regex", pattern, entry_id), regex=compiled)


def _matches_empty(compiled: _Pattern) -> bool:
    """True when the pattern matches without consuming text (empty text or a zero-width spot)."""
    try:
        if compiled.search("", timeout=PROBE_TIMEOUT_S) is not None:
            return True
        m = compiled.search("the quick brown fox jumps over 13 lazy dogs.", timeout=PROBE_TIMEOUT_S)
    except TimeoutError:
        return False  # the probe below reports it
    return m is not None and m.end() == m.start()


def _probe_strings(pattern: str) -> Iterator[str]:
    units = ["a", "1", " ", "x", ".", "a ", "ab", "a1", "word ", "a-", "\n"]
    # Literal runs from the pattern itself are what its quantifiers are most likely to repeat.
    literals = regex.findall(r"[^\W_]{1,20}", regex.sub(r"\\.", " ", pattern))
    for lit in dict.fromkeys(literals):
        if len(units) >= 20:
            break
        units.extend((lit, lit + " "))
    for unit in dict.fromkeys(units):
        body = unit * (PROBE_LENGTH // len(unit))
        yield body
        yield body + "!"


def _probe(compiled: _Pattern) -> str | None:
    """Return the first probe string the pattern cannot answer within the timeout, if any."""
    for text in _probe_strings(compiled.pattern):
        try:
            compiled.search(text, timeout=PROBE_TIMEOUT_S)
        except TimeoutError:
            return text
    return None


# --------------------------------------------------------------------------------------------
# Static regex screening
# --------------------------------------------------------------------------------------------


@dataclass
class _Frame:
    """Bookkeeping for one group while scanning a pattern."""

    has_quantifier: bool = False
    has_alternation: bool = False
    ambiguous_inside: bool = False  # a nested group has an ambiguous alternation
    branches: list[str | None] = field(default_factory=list)  # literal text, None if not literal
    current: str | None = ""

    def end_branch(self) -> None:
        self.branches.append(self.current)
        self.current = ""

    def add_literal(self, ch: str) -> None:
        if self.current is not None:
            self.current += ch.casefold()

    def add_non_literal(self) -> None:
        self.current = None

    def ambiguous_alternation(self) -> bool:
        """Could two branches match the same text at the same spot (e.g. ``a|aa``)?

        Only prefix-free plain literals (``cat|dog``) are known to be safe under repetition.
        """
        if not self.has_alternation:
            return False
        branches = self.branches
        if any(b is None or b == "" for b in branches):
            return True
        literals = sorted(b for b in branches if b is not None)
        return any(b.startswith(a) for a, b in itertools.pairwise(literals))


@dataclass
class _Atom:
    """The last thing a quantifier could apply to."""

    is_group: bool = False
    has_quantifier: bool = False
    ambiguous: bool = False


_QUANTIFIER = regex.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_BACKREF_ESCAPE = regex.compile(r"\\(?:[1-9]|g<|g\{|k<|k\{)")
_RECURSION = regex.compile(r"\(\?(?:R|&|P>|[+-]?\d)")
# The syntax after "(" that opens a group ("(?:", "(?=", "(?<!", "(?P<name>", "(?i:") or sets
# flags ("(?i)"), so its "?" is not read as a quantifier.
_GROUP_HEADER = regex.compile(r"\(\?(?:P?<\w+>|'\w+'|[:=!>|]|<[=!]|[a-zA-Z^-]*[:)])")


def find_catastrophic_shape(pattern: str) -> str | None:
    """Name an obviously catastrophic shape in ``pattern`` (for the admin), or return None.

    A heuristic over a pattern that already compiles: a repeated group that itself contains a
    quantifier (``(a+)+``, ``(.*a){20}``), a repeated group whose alternatives can match the same
    text (``(a|aa)*``), backreferences, recursion and conditionals. It errs towards refusing; the
    add-time probe and the match-time timeout catch what it misses.
    """
    stack: list[_Frame] = [_Frame()]
    last: _Atom | None = None
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        frame = stack[-1]
        if ch == "\\":
            if _BACKREF_ESCAPE.match(pattern, i):
                return texts.SHAPE_BACKREFERENCE()
            nxt = pattern[i + 1] if i + 1 < n else ""
            if nxt in "pPNxuUo" and i + 2 < n and pattern[i + 2] == "{":
                close = pattern.find("}", i + 2)
                i = n if close < 0 else close + 1
                frame.add_non_literal()
            elif nxt.isalnum():
                i += 2
                frame.add_non_literal()
            else:
                i += 2
                frame.add_literal(nxt)
            last = _Atom()
            continue
        if ch == "[":
            i = _skip_class(pattern, i)
            frame.add_non_literal()
            last = _Atom()
            continue
        if ch == "(":
            if pattern.startswith("(?#", i):
                close = pattern.find(")", i)
                i = n if close < 0 else close + 1
                continue
            if pattern.startswith("(?P=", i):
                return texts.SHAPE_BACKREFERENCE()
            if pattern.startswith("(?(", i):
                return texts.SHAPE_CONDITIONAL()
            if _RECURSION.match(pattern, i):
                return texts.SHAPE_RECURSION()
            header = _GROUP_HEADER.match(pattern, i)
            if header is not None and header.group(0).endswith(")"):
                i = header.end()  # inline flags such as "(?i)": nothing to repeat
                continue
            stack.append(_Frame())
            i = header.end() if header is not None else i + 1
            last = None
            continue
        if ch == ")":
            if len(stack) == 1:
                i += 1
                continue
            inner = stack.pop()
            inner.end_branch()
            ambiguous = inner.ambiguous_alternation() or inner.ambiguous_inside
            parent = stack[-1]
            parent.has_quantifier |= inner.has_quantifier
            parent.ambiguous_inside |= ambiguous
            parent.add_non_literal()
            last = _Atom(is_group=True, has_quantifier=inner.has_quantifier, ambiguous=ambiguous)
            i += 1
            continue
        if ch == "|":
            frame.has_alternation = True
            frame.end_branch()
            last = None
            i += 1
            continue
        quantifier = _read_quantifier(pattern, i)
        if quantifier is not None:
            length, maximum = quantifier
            if last is not None and last.is_group and (maximum is None or maximum > 1):
                if last.has_quantifier:
                    return texts.SHAPE_NESTED_QUANTIFIER()
                if last.ambiguous:
                    return texts.SHAPE_OVERLAPPING()
            frame.has_quantifier = True
            frame.add_non_literal()
            i += length
            # A lazy "?" or possessive "+" suffix belongs to this quantifier.
            if i < n and pattern[i] in "?+":
                i += 1
            last = None
            continue
        if ch in ".^$":
            frame.add_non_literal()
        else:
            frame.add_literal(ch)
        last = _Atom()
        i += 1
    return None


def _read_quantifier(pattern: str, i: int) -> tuple[int, int | None] | None:
    """(length, maximum repeats or None for unbounded) of a quantifier at ``i``, else None."""
    ch = pattern[i]
    if ch in "*+":
        return 1, None
    if ch == "?":
        return 1, 1
    if ch == "{":
        m = _QUANTIFIER.match(pattern, i)
        if m is None or (not m.group(1) and not m.group(2)):
            return None
        low, comma, high = m.group(1), m.group(2), m.group(3)
        if comma is None:
            return len(m.group(0)), int(low)
        return len(m.group(0)), (int(high) if high else None)
    return None


def _skip_class(pattern: str, i: int) -> int:
    """Index just past the character class opening at ``i``."""
    n = len(pattern)
    j = i + 1
    if j < n and pattern[j] == "^":
        j += 1
    if j < n and pattern[j] == "]":
        j += 1  # a leading "]" is a literal
    while j < n:
        c = pattern[j]
        if c == "\\":
            j += 2
            continue
        if c == "[" and pattern.startswith("[:", j):
            close = pattern.find(":]", j + 2)
            if close >= 0:
                j = close + 2
                continue
        if c == "]":
            return j + 1
        j += 1
    return n


# --------------------------------------------------------------------------------------------
# Blocklist
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockMatch:
    """Why a text was refused: the entry that matched, or the entry whose check timed out."""

    entry: BlocklistEntry
    text_index: int  # 0 = the prompt, 1.. = the extra texts in the order given (negative prompt)
    timed_out: bool = False

    @property
    def user_message(self) -> str:
        return texts.PROMPT_CHECK_TIMED_OUT() if self.timed_out else texts.PROMPT_BLOCKED()

    def to_error(self) -> RefusedError:
        """The error the command handler shows; the log detail names the entry, not the text."""
        what = "timed out on" if self.timed_out else "matched"
        detail = f"blocklist {what} {self.entry.kind} entry id={self.entry.id}"
        return RefusedError(self.user_message, detail=detail)


class Blocklist:
    """A server's blocklist, compiled once and checked against every prompt.

    All word entries share one alternation so a check is one pass over the normalised text; regex
    entries run one by one. The whole check shares one deadline, however many entries and texts.
    """

    def __init__(
        self,
        entries: Iterable[BlocklistEntry | CompiledEntry],
        *,
        timeout: float = CHECK_TIMEOUT_S,
    ) -> None:
        self.timeout = timeout
        self.entries: list[CompiledEntry] = []
        self.rejected: list[tuple[BlocklistEntry, str]] = []
        counts = dict.fromkeys(_ENTRY_CAPS, 0)
        for item in entries:
            entry = item.entry if isinstance(item, CompiledEntry) else item
            cap = _ENTRY_CAPS.get(entry.kind)
            if cap is not None and counts[entry.kind] >= cap:
                # Stored before the cap, or by two adds at once: the cap bounds every check.
                self._reject(entry, f"the list already has {cap} {entry.kind} entries")
                continue
            if isinstance(item, CompiledEntry):
                compiled = item
            else:
                try:
                    # Stored entries were probed when added; a probe overrunning now, on a busy
                    # machine, must not refuse every prompt in the server.
                    compiled = compile_entry(
                        entry.kind, entry.pattern, entry_id=entry.id, probe=False
                    )
                except UserInputError as exc:
                    # A stored row that no longer validates (rules tightened since it was added):
                    # skip it loudly rather than refuse every prompt in the server.
                    self._reject(entry, exc.user_message)
                    continue
            counts[entry.kind] += 1
            self.entries.append(compiled)

        self._words: dict[str, CompiledEntry] = {}
        for compiled in self.entries:
            if compiled.word is not None:
                self._words.setdefault(compiled.word, compiled)
        self._regexes = [c for c in self.entries if c.kind == "regex" and c.regex is not None]
        self._word_pattern: _Pattern | None = None
        if self._words:
            # Longest first so a phrase wins over a word it starts with.
            ordered = sorted(self._words, key=len, reverse=True)
            body = "|".join(_word_regex_source(w) for w in ordered)
            self._word_pattern = regex.compile(_bounded(body), regex.IGNORECASE)

    def _reject(self, entry: BlocklistEntry, reason: str) -> None:
        log.error("skipping blocklist entry id=%s kind=%s: %s", entry.id, entry.kind, reason)
        self.rejected.append((entry, reason))

    def __len__(self) -> int:
        return len(self.entries)

    def check(self, prompt: str, *extra_texts: str | None) -> BlockMatch | None:
        """Return the first entry that matches the prompt or an extra text (negative prompt).

        Word entries match the normalised text; regex entries match the normalised text and the
        text as typed (so an admin's ``discord\\.gg/`` still works). A check that runs out of
        time counts as a match: the prompt is refused rather than let through unchecked.
        """
        if not self.entries:
            return None  # most servers have no list: skip normalising on the way to the defer
        deadline = time.monotonic() + self.timeout
        for index, text in enumerate((prompt, *extra_texts)):
            if not text:
                continue
            found = self._check_one(text, index, deadline)
            if found is not None:
                return found
        return None

    def _check_one(self, text: str, index: int, deadline: float) -> BlockMatch | None:
        normalised = normalise(text)
        if self._word_pattern is not None and normalised:
            try:
                m = _search(self._word_pattern, normalised, deadline)
            except TimeoutError:
                first = next(iter(self._words.values()))
                return self._timed_out(first, index, len(text))
            if m is not None:
                return BlockMatch(self._word_entry(m.group(0), deadline).entry, index)
        candidates = (normalised, text) if normalised != text else (text,)
        for compiled in self._regexes:
            assert compiled.regex is not None
            for candidate in candidates:
                try:
                    if _search(compiled.regex, candidate, deadline) is not None:
                        return BlockMatch(compiled.entry, index)
                except TimeoutError:
                    return self._timed_out(compiled, index, len(text))
        return None

    def _word_entry(self, matched: str, deadline: float) -> CompiledEntry:
        key = " ".join(matched.casefold().split())
        found = self._words.get(key)
        if found is not None:
            return found
        # IGNORECASE can match spellings that are not the dict key (e.g. Kelvin sign vs "k");
        # fall back to the single-entry patterns, which agree with the alternation.
        for compiled in self._words.values():
            if compiled.regex is None:
                continue
            try:
                if _search(compiled.regex, matched, deadline) is not None:
                    return compiled
            except TimeoutError:
                return compiled  # out of time: any word entry will do to refuse the prompt
        return next(iter(self._words.values()))

    def _timed_out(self, compiled: CompiledEntry, index: int, length: int) -> BlockMatch:
        log.warning(
            "blocklist check timed out (its budget is %.0f ms) at %s entry id=%s "
            "(pattern %r, text %d chars); refusing the prompt",
            self.timeout * 1000,
            compiled.kind,
            compiled.entry.id,
            compiled.entry.pattern,
            length,
        )
        return BlockMatch(compiled.entry, index, timed_out=True)


_ENTRY_CAPS: dict[str, int] = {"word": MAX_WORD_ENTRIES, "regex": MAX_REGEX_ENTRIES}


def _search(pattern: _Pattern, text: str, deadline: float) -> _Match | None:
    """``pattern.search`` within what is left of a check's budget; TimeoutError once none is."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return pattern.search(text, timeout=left)


def ensure_room(kind: str, stored: int) -> None:
    """Refuse adding an entry of ``kind`` to a list that already holds ``stored`` of them."""
    if kind == "regex" and stored >= MAX_REGEX_ENTRIES:
        raise UserInputError(
            texts.BLOCKLIST_REGEX_FULL(limit=MAX_REGEX_ENTRIES, word_limit=MAX_WORD_ENTRIES)
        )
    if kind == "word" and stored >= MAX_WORD_ENTRIES:
        raise UserInputError(texts.BLOCKLIST_WORD_FULL(limit=MAX_WORD_ENTRIES))


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------

_UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_ALIASES = {
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
    "d": "d", "day": "d", "days": "d",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
}  # fmt: skip
_DURATION_PART = regex.compile(r"\s*(\d{1,9})\s*([a-z]+)\s*,?", regex.IGNORECASE)


def parse_duration(text: str) -> datetime.timedelta:
    """Parse "30m", "2h", "7d", "1w", "1h30m", "1h 30m" or "90s" (1 minute to 365 days)."""
    if not text or len(text) > 40:
        raise UserInputError(texts.DURATION_HELP())
    total = 0
    seen: set[str] = set()
    pos = 0
    stripped = text.strip()
    while pos < len(stripped):
        m = _DURATION_PART.match(stripped, pos)
        if m is None or m.end() == pos:
            raise UserInputError(texts.DURATION_HELP())
        unit = _UNIT_ALIASES.get(m.group(2).lower())
        if unit is None or unit in seen:
            raise UserInputError(texts.DURATION_HELP())
        seen.add(unit)
        total += int(m.group(1)) * _UNIT_SECONDS[unit]
        pos = m.end()
    if not seen:
        raise UserInputError(texts.DURATION_HELP())
    if total < MIN_DURATION.total_seconds():
        raise UserInputError(texts.DURATION_TOO_SHORT())
    if total > MAX_DURATION.total_seconds():
        raise UserInputError(texts.DURATION_TOO_LONG())
    return datetime.timedelta(seconds=total)


def format_duration(td: datetime.timedelta) -> str:
    """Compact form that :func:`parse_duration` reads back: ``1w 2d 3h``, ``45m``, ``1m 30s``."""
    seconds = int(td.total_seconds())
    if seconds <= 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _UNIT_SECONDS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts)


# --------------------------------------------------------------------------------------------
# Timezones
# --------------------------------------------------------------------------------------------


@functools.cache
def _timezones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def validate_timezone(name: str) -> str:
    """Return the canonical IANA spelling of ``name`` ("europe/paris" -> "Europe/Paris")."""
    cleaned = name.strip()
    key = cleaned.replace(" ", "_").casefold()
    canonical = _timezones_by_folded_name().get(key) if len(cleaned) <= 64 else None
    if canonical is not None:
        try:
            zoneinfo.ZoneInfo(canonical)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            log.exception("timezone %r is listed but cannot be loaded", canonical)
        else:
            return canonical
    shown = sanitize_for_display(cleaned, 40) or "(empty)"
    raise UserInputError(texts.TIMEZONE_UNKNOWN(name=shown))


# --------------------------------------------------------------------------------------------
# Echoing user text
# --------------------------------------------------------------------------------------------

_ZWSP = "\u200b"
# Bidi embeddings, overrides and isolates, plus the implicit marks: they can reorder the text
# around them (making an echoed prompt read differently) and never belong in an echo.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALWAYS_ESCAPE = frozenset("\\*_~|`[]")
# Only special at the start of a line: block quotes, headers, list items.
_LINE_START_ESCAPE = frozenset(">#-")


def _display_tokens(text: str) -> Iterator[str]:
    """Yield the escaped form of each character, so truncation never splits an escape."""
    at_line_start = True
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "\n" or ch in "\u2028\u2029":
            at_line_start = True
            yield "\n"
            continue
        if ch in _BIDI or cat == "Cs" or (cat == "Cc" and not ch.isspace()):
            continue
        if cat == "Cc":
            ch = " "
        if ch in _ALWAYS_ESCAPE or (at_line_start and ch in _LINE_START_ESCAPE):
            yield "\\" + ch
        elif ch in "@<":
            # "@everyone", "@here", "<@id>", "<@&id>", "<#id>", "</cmd:id>": a zero-width space
            # after the trigger character keeps the text visible but stops Discord parsing it.
            yield ch + _ZWSP
        else:
            yield ch
        if not ch.isspace():
            at_line_start = False


def sanitize_for_display(text: str, limit: int) -> str:
    """Make user text safe to echo in a message or embed, at most ``limit`` characters.

    Markdown is escaped, mentions are neutralised, control and bidi characters are removed, and
    over-long text ends with "…". Messages still send ``AllowedMentions.none()``; this is the
    second line of defence and keeps the echo looking like what the user typed.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    tokens = list(_display_tokens(text))
    if sum(len(t) for t in tokens) <= limit:
        return "".join(tokens)
    out: list[str] = []
    used = 0
    for token in tokens:
        if used + len(token) > limit - 1:
            break
        out.append(token)
        used += len(token)
    return "".join(out).rstrip() + "…"
