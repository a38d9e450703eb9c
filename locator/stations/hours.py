"""Opening hours: a documented subset of the OpenStreetMap ``opening_hours`` syntax.

Supported grammar (whitespace around separators is free)::

    hours     := "24/7" | rule (";" rule)*
    rule      := "24/7" | [days] (spans | "off" | "closed")
    days      := dayitem ("," dayitem)*
    dayitem   := DAY | DAY "-" DAY            (ranges may wrap: "Sa-Mo")
    spans     := span ("," span)*
    span      := HH:MM "-" HH:MM              (end "24:00" allowed; end < start spans midnight)
    DAY       := Mo | Tu | We | Th | Fr | Sa | Su

Semantics, following OSM for normal rules: rules are applied in order and a rule replaces
whatever earlier rules said about *its* weekdays ("Mo-Su 08:00-20:00; Sa,Su off"). A rule
without a weekday selector applies to every day. A span that ends before it starts runs
past midnight into the next day ("Fr 22:00-06:00" is open Friday 22:00 to Saturday 06:00);
that spill-over belongs to the day it starts on and is not removed by a later rule for the
next day. Not supported: public holidays (``PH``), months, weeks, ``sunrise``, comments,
open-ended times (``18:00+``) and the ``||`` fallback operator.

Times are China Standard Time (UTC+8, no daylight saving): every border port of Inner
Mongolia keeps Beijing time. :meth:`OpeningHours.is_open` treats naive datetimes as CST and
converts aware ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from locator.config import CHINA_STANDARD_TIME
from locator.errors import OpeningHoursError

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
ALWAYS = "24/7"

_TIME_RE = re.compile(r"^(\d{2}):(\d{2})$")
_DAY_TOKEN_RE = re.compile(r"^[A-Z][a-z]$")


@dataclass(frozen=True)
class Rule:
    """One ``;``-separated rule.

    Attributes
    ----------
    days
        Weekdays the rule applies to (0 = Monday), or ``None`` for "every day, no selector".
    spans
        Sorted ``(start_min, end_min)`` pairs in minutes after midnight; ``end_min`` may be
        1440; ``end_min < start_min`` means the span runs past midnight. Empty means "off".
    """

    days: frozenset[int] | None
    spans: tuple[tuple[int, int], ...]

    @property
    def off(self) -> bool:
        """Whether the rule closes its days."""
        return not self.spans

    def format(self) -> str:
        """Canonical text of the rule."""
        if self.days is None and self.spans == ((0, MINUTES_PER_DAY),):
            return ALWAYS
        body = "off" if self.off else ",".join(_format_span(s) for s in self.spans)
        if self.days is None:
            return body
        return f"{_format_days(self.days)} {body}"


@dataclass(frozen=True)
class OpeningHours:
    """Parsed opening hours; build with :meth:`parse`.

    Attributes
    ----------
    rules
        The rules in input order.
    """

    rules: tuple[Rule, ...]

    @classmethod
    def parse(cls, text: str) -> OpeningHours:
        """Parse an expression of the supported subset.

        Parameters
        ----------
        text
            For example ``"24/7"``, ``"Mo-Fr 08:00-18:00; Sa,Su off"``.

        Raises
        ------
        OpeningHoursError
            With a message naming the offending part and what was expected.
        """
        if not isinstance(text, str):
            raise OpeningHoursError(
                f"opening_hours must be a string, got {type(text).__name__}", value=repr(text)
            )
        stripped = text.strip()
        if not stripped:
            raise OpeningHoursError(
                "opening_hours is empty; use '24/7' for always open or e.g. 'Mo-Fr 08:00-18:00'",
                value=text,
            )
        rules = []
        for number, part in enumerate(stripped.split(";"), start=1):
            rule_text = part.strip()
            if not rule_text:
                raise OpeningHoursError(
                    f"opening_hours {text!r}: rule {number} is empty (stray ';'?)", value=text
                )
            rules.append(_parse_rule(rule_text, text, number))
        return cls(tuple(rules))

    def format(self) -> str:
        """Canonical text; ``OpeningHours.parse(h.format()) == h``."""
        return "; ".join(rule.format() for rule in self.rules)

    def __str__(self) -> str:
        return self.format()

    def day_spans(self) -> list[list[tuple[int, int]]]:
        """Effective spans per weekday after rule overriding (index 0 = Monday)."""
        week: list[list[tuple[int, int]]] = [[] for _ in DAYS]
        for rule in self.rules:
            targets = range(7) if rule.days is None else sorted(rule.days)
            for day in targets:
                week[day] = list(rule.spans)
        return week

    def weekly_intervals(self) -> list[tuple[int, int]]:
        """Open intervals as merged ``[start, end)`` minutes of the week (Monday 00:00 = 0).

        Spans past Sunday midnight wrap to Monday morning.
        """
        raw: list[tuple[int, int]] = []
        for day, spans in enumerate(self.day_spans()):
            base = day * MINUTES_PER_DAY
            for start, end in spans:
                stop = end if end > start else end + MINUTES_PER_DAY
                a, b = base + start, base + stop
                if b <= MINUTES_PER_WEEK:
                    raw.append((a, b))
                else:
                    raw.append((a, MINUTES_PER_WEEK))
                    raw.append((0, b - MINUTES_PER_WEEK))
        raw.sort()
        merged: list[tuple[int, int]] = []
        for a, b in raw:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    @property
    def always_open(self) -> bool:
        """True when open every minute of the week."""
        return self.weekly_intervals() == [(0, MINUTES_PER_WEEK)]

    def spans_on(self, at: datetime) -> list[str]:
        """The opening spans of ``at``'s weekday (China Standard Time) as ``"HH:MM-HH:MM"``
        (``[]``: closed all day), for "today's hours" next to an answer."""
        local = at.astimezone(CHINA_STANDARD_TIME) if at.tzinfo is not None else at
        return [_format_span(span) for span in self.day_spans()[local.weekday()]]

    def is_open(self, at: datetime) -> bool:
        """Whether the station is open at ``at``.

        Parameters
        ----------
        at
            Naive datetimes are China Standard Time (UTC+8); aware ones are converted.
        """
        local = at.astimezone(CHINA_STANDARD_TIME) if at.tzinfo is not None else at
        minute = local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute
        fraction = (local.second + local.microsecond / 1e6) / 60.0
        t = minute + fraction
        return any(a <= t < b for a, b in self.weekly_intervals())


def _parse_rule(rule_text: str, full: str, number: int) -> Rule:
    where = f"opening_hours {full!r}, rule {number} ({rule_text!r})"
    if rule_text == ALWAYS:
        return Rule(days=None, spans=((0, MINUTES_PER_DAY),))
    tokens = rule_text.split()
    if len(tokens) > 2:
        # allow spaces after commas: "Mo, We 08:00-12:00, 14:00-18:00"
        joined = re.sub(r"\s*([,\-])\s*", r"\1", rule_text)
        tokens = joined.split()
    if len(tokens) == 1:
        days: frozenset[int] | None = None
        body = tokens[0]
        if _looks_like_days(body):
            raise OpeningHoursError(
                f"{where}: weekdays {body!r} need times or 'off' after them, "
                "e.g. 'Mo-Fr 08:00-18:00' or 'Sa,Su off'",
                value=full,
            )
    elif len(tokens) == 2:
        days = _parse_days(tokens[0], where, full)
        body = tokens[1]
    else:
        raise OpeningHoursError(
            f"{where}: expected '[weekdays] times', e.g. 'Mo-Fr 08:00-18:00'", value=full
        )
    if body.lower() in ("off", "closed"):
        return Rule(days=days, spans=())
    spans = tuple(sorted(_parse_span(s, where, full) for s in body.split(",")))
    return Rule(days=days, spans=spans)


def _looks_like_days(token: str) -> bool:
    return all(_DAY_TOKEN_RE.match(p) for p in re.split(r"[,\-]", token) if p)


def _parse_days(token: str, where: str, full: str) -> frozenset[int]:
    result: set[int] = set()
    for item in token.split(","):
        if not item:
            raise OpeningHoursError(f"{where}: empty weekday in {token!r}", value=full)
        ends = item.split("-")
        if len(ends) > 2:
            raise OpeningHoursError(f"{where}: bad weekday range {item!r}", value=full)
        idx = []
        for name in ends:
            if name not in DAYS:
                raise OpeningHoursError(
                    f"{where}: unknown weekday {name!r}; use two-letter English "
                    f"abbreviations {', '.join(DAYS)}",
                    value=full,
                )
            idx.append(DAYS.index(name))
        if len(idx) == 1:
            result.add(idx[0])
        else:
            start, end = idx
            day = start
            while True:
                result.add(day)
                if day == end:
                    break
                day = (day + 1) % 7
    return frozenset(result)


def _parse_time(text: str, where: str, full: str, *, is_end: bool) -> int:
    m = _TIME_RE.match(text)
    if not m:
        raise OpeningHoursError(
            f"{where}: bad time {text!r}; expected HH:MM with two-digit hours, e.g. 08:00",
            value=full,
        )
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes != 0 or not is_end)):
        raise OpeningHoursError(
            f"{where}: time {text!r} out of range (00:00-23:59; 24:00 only as an end)",
            value=full,
        )
    return hours * 60 + minutes


def _parse_span(text: str, where: str, full: str) -> tuple[int, int]:
    parts = text.split("-")
    if len(parts) != 2:
        raise OpeningHoursError(
            f"{where}: bad time span {text!r}; expected HH:MM-HH:MM, e.g. 08:00-18:00",
            value=full,
        )
    start = _parse_time(parts[0], where, full, is_end=False)
    end = _parse_time(parts[1], where, full, is_end=True)
    if start == end:
        raise OpeningHoursError(
            f"{where}: empty time span {text!r}; use 00:00-24:00 or 24/7 for a whole day",
            value=full,
        )
    if end == MINUTES_PER_DAY and start == 0:
        return (0, MINUTES_PER_DAY)
    return (start, end)


def _format_span(span: tuple[int, int]) -> str:
    start, end = span
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _format_days(days: frozenset[int]) -> str:
    ordered = sorted(days)
    runs: list[list[int]] = []
    for d in ordered:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAYS[run[0]]}-{DAYS[run[-1]]}")
        else:
            parts.extend(DAYS[d] for d in run)
    return ",".join(parts)
