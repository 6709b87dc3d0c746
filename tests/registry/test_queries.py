"""The rules of registry reads that need no database: where a page ends, which bans are in
force."""

from __future__ import annotations

import datetime as dt

from registry.queries import ban_in_force, page_of

TODAY = dt.date(2026, 3, 1)


def test_a_full_page_points_past_its_last_row() -> None:
    rows = [{"id": 3}, {"id": 7}]
    assert page_of(rows, 2).next_cursor == 7
    assert page_of(rows, 3).next_cursor is None  # short: the last page
    assert page_of([], 1).next_cursor is None
    assert page_of([{"seq": 9}], 1, key="seq").next_cursor == 9


def test_a_ban_is_in_force_until_its_last_day_unless_lifted() -> None:
    lifted = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    cases = [
        (None, None, True),  # lifelong
        (TODAY, None, True),  # its last day
        (TODAY - dt.timedelta(days=1), None, False),  # over
        (None, lifted, False),
        (TODAY + dt.timedelta(days=30), lifted, False),
    ]
    for until_on, lifted_at, expected in cases:
        ban = {"until_on": until_on, "lifted_at": lifted_at}
        assert ban_in_force(ban, TODAY) is expected, ban
