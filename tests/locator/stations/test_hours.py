"""Opening hours: parsing, evaluation in China Standard Time, round trips, properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locator.errors import OpeningHoursError
from locator.stations.hours import DAYS, MINUTES_PER_DAY, OpeningHours, Rule

MONDAY = datetime(2024, 6, 3)  # a Monday (naive = China Standard Time)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY + timedelta(days=day, hours=hour, minutes=minute)


def test_always_open():
    h = OpeningHours.parse("24/7")
    assert h.always_open
    assert h.is_open(at(6, 23, 59))
    assert h.format() == "24/7"


def test_weekday_rule_and_off_override():
    h = OpeningHours.parse("Mo-Su 08:00-12:00,14:00-20:00; Sa,Su off")
    assert h.is_open(at(0, 8, 0))
    assert not h.is_open(at(0, 12, 0))  # end is exclusive
    assert not h.is_open(at(0, 13, 0))
    assert h.is_open(at(4, 19, 59))
    assert not h.is_open(at(5, 10, 0))
    assert not h.is_open(at(6, 10, 0))


def test_later_rule_replaces_earlier_for_its_days_only():
    h = OpeningHours.parse("Mo-Fr 08:00-18:00; Fr 10:00-12:00")
    assert h.is_open(at(3, 9, 0))
    assert not h.is_open(at(4, 9, 0))
    assert h.is_open(at(4, 11, 0))


def test_span_over_midnight_runs_into_next_day_and_wraps_the_week():
    h = OpeningHours.parse("Su 22:00-06:00")
    assert h.is_open(at(6, 23, 0))
    assert h.is_open(at(7, 5, 59))  # the next Monday
    assert not h.is_open(at(7, 6, 0))
    assert not h.is_open(at(0, 22, 30))


def test_aware_datetimes_are_converted_to_cst():
    h = OpeningHours.parse("Mo-Fr 08:00-18:00")
    utc_0030 = datetime(2024, 6, 3, 0, 30, tzinfo=UTC)  # Monday 08:30 in Beijing
    assert h.is_open(utc_0030)
    moscow = timezone(timedelta(hours=3))
    assert not h.is_open(datetime(2024, 6, 3, 2, 30, tzinfo=moscow))  # 07:30 CST


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Mo-Fx 08:00-18:00", "unknown weekday 'Fx'"),
        ("Mo-Fr 8:00-18:00", "bad time '8:00'"),
        ("Mo-Fr 08:00-25:00", "out of range"),
        ("Mo-Fr 24:00-08:00", "out of range"),
        ("Mo-Fr 08:60-09:00", "out of range"),
        ("Mo-Fr", "need times or 'off'"),
        ("08:00-08:00", "empty time span"),
        ("Mo-Fr 08:00-18:00;", "rule 2 is empty"),
        ("Mo-Fr 08:00", "bad time span"),
        ("PH off", "unknown weekday 'PH'"),
        ("Mo-We-Fr 08:00-09:00", "bad weekday range"),
        ("Mo Tu We 08:00-09:00", "expected"),
    ],
)
def test_malformed_hours_raise_helpful_errors(text, fragment):
    with pytest.raises(OpeningHoursError) as info:
        OpeningHours.parse(text)
    assert fragment in str(info.value)
    assert info.value.code == "invalid_opening_hours"


def test_spaces_after_commas_are_tolerated():
    a = OpeningHours.parse("Mo, We 08:00-12:00, 14:00-18:00")
    b = OpeningHours.parse("Mo,We 08:00-12:00,14:00-18:00")
    assert a == b


# -- properties ------------------------------------------------------------------------

days_st = st.frozensets(st.integers(0, 6), min_size=1)
instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1))


@st.composite
def day_spans(draw):
    """Non-overlapping, non-touching spans within one day (no midnight crossing)."""
    cuts = sorted(draw(st.sets(st.integers(0, MINUTES_PER_DAY), min_size=2, max_size=8)))
    if len(cuts) % 2:
        cuts = cuts[:-1]
    return tuple((cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2))


@st.composite
def rules(draw):
    days = draw(st.none() | days_st)
    kind = draw(st.sampled_from(["spans", "off", "overnight"]))
    if kind == "off":
        return Rule(days, ())
    if kind == "overnight":
        start = draw(st.integers(1, MINUTES_PER_DAY - 1))
        end = draw(st.integers(0, start - 1))
        return Rule(days, ((start, end),))
    spans = draw(day_spans())
    return Rule(days, tuple(sorted(spans)))


@settings(max_examples=200, deadline=None)
@given(instants)
def test_24_7_is_always_open(moment):
    assert OpeningHours.parse("24/7").is_open(moment)


@settings(max_examples=200, deadline=None)
@given(st.lists(rules(), min_size=1, max_size=4))
def test_format_parse_round_trip(rule_list):
    hours = OpeningHours(tuple(rule_list))
    again = OpeningHours.parse(hours.format())
    assert again == hours
    assert again.weekly_intervals() == hours.weekly_intervals()


@settings(max_examples=150, deadline=None)
@given(days_st, day_spans(), instants)
def test_rule_and_its_complement_partition_the_week(days, spans, moment):
    if not spans:
        spans = ((0, 60),)
    rule = Rule(frozenset(days), spans)
    # complement: the gaps on the same days, whole days elsewhere
    gaps = []
    cursor = 0
    for a, b in spans:
        if a > cursor:
            gaps.append((cursor, a))
        cursor = b
    if cursor < MINUTES_PER_DAY:
        gaps.append((cursor, MINUTES_PER_DAY))
    other = frozenset(range(7)) - days
    comp_rules = [Rule(frozenset(days), tuple(gaps))]
    if other:
        comp_rules.append(Rule(other, ((0, MINUTES_PER_DAY),)))
    h = OpeningHours((rule,))
    c = OpeningHours(tuple(comp_rules))
    # through text, so the parser is exercised too
    h, c = OpeningHours.parse(h.format()), OpeningHours.parse(c.format())
    assert h.is_open(moment) != c.is_open(moment)


@settings(max_examples=150, deadline=None)
@given(st.lists(rules(), min_size=1, max_size=4), instants)
def test_is_open_matches_a_minute_by_minute_reference(rule_list, moment):
    hours = OpeningHours(tuple(rule_list))
    # reference: apply rules in order to a per-day table of open minutes
    table = [set() for _ in DAYS]
    spill = [set() for _ in DAYS]  # minutes of the next day opened by an overnight span
    for rule in rule_list:
        for d in range(7) if rule.days is None else rule.days:
            table[d] = set()
            spill[d] = set()
            for a, b in rule.spans:
                if b > a:
                    table[d].update(range(a, b))
                else:
                    table[d].update(range(a, MINUTES_PER_DAY))
                    spill[d].update(range(b))
    d, m = moment.weekday(), moment.hour * 60 + moment.minute
    expected = m in table[d] or m in spill[(d - 1) % 7]
    assert hours.is_open(moment) == expected
