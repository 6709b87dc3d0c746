"""A use case learns the effects of its calls from the events emitted on its own cursor
(``events.collected``), not from another transaction's."""

from __future__ import annotations

from typing import Any

import pytest

from registry import events

EVENT = "test.collected"
BUS = events.EventBus()


class FakeCursor:
    """What emit reads of a cursor: its database's bus (and its identity)."""

    def __init__(self, bus: events.EventBus = BUS) -> None:
        self.events = bus


def test_collects_only_its_cursors_events_while_the_block_runs() -> None:
    mine, theirs = FakeCursor(), FakeCursor()  # one database, two units of work
    events.emit(mine, EVENT, n=0)
    with events.collected(mine, EVENT) as seen, events.collected(theirs, EVENT) as other:
        events.emit(mine, EVENT, n=1)
        events.emit(theirs, EVENT, n=2)
        events.emit(mine, "test.other", n=3)
        events.emit(mine, EVENT, n=4)
    events.emit(mine, EVENT, n=5)
    assert seen == [{"n": 1}, {"n": 4}]
    assert other == [{"n": 2}]


def test_unsubscribes_when_the_block_raises() -> None:
    cur = FakeCursor()
    try:
        with events.collected(cur, EVENT) as seen:
            events.emit(cur, EVENT, n=1)
            raise ValueError("rolled back")
    except ValueError:
        pass
    events.emit(cur, EVENT, n=2)
    assert seen == [{"n": 1}]


def test_each_database_has_its_own_handlers_and_a_name_replaces() -> None:
    one, two = events.EventBus(), events.EventBus()
    seen: list[tuple[str, Any]] = []
    one.subscribe(EVENT, lambda cur, **kw: seen.append(("first", kw["n"])), name="h")
    one.subscribe(EVENT, lambda cur, **kw: seen.append(("again", kw["n"])), name="h")
    events.emit(FakeCursor(one), EVENT, n=1)
    events.emit(FakeCursor(two), EVENT, n=2)  # another database: no handler of one's
    assert seen == [("again", 1)]


def test_a_cursor_without_a_bus_cannot_emit() -> None:
    with pytest.raises(RuntimeError, match="no event bus"):
        events.emit(object(), EVENT, n=1)  # type: ignore[arg-type]
