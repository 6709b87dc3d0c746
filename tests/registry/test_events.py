"""A use case learns the effects of its calls from the events emitted on its own cursor
(``events.collected``), not from another transaction's."""

from __future__ import annotations

from registry import events

EVENT = "test.collected"


def test_collects_only_its_cursors_events_while_the_block_runs() -> None:
    mine, theirs = object(), object()  # emit passes the cursor on; identity is all it reads
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
    cur = object()
    try:
        with events.collected(cur, EVENT) as seen:
            events.emit(cur, EVENT, n=1)
            raise ValueError("rolled back")
    except ValueError:
        pass
    events.emit(cur, EVENT, n=2)
    assert seen == [{"n": 1}]
