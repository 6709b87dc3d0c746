"""`guardreg audit witness` and `guardreg audit verify --witness`.

A witness is a second party (another agency, a backup host) that keeps every checkpoint
of the audit log it has seen, in a directory of its own, and checks that each new one
extends the last: a log that shrinks, or that shows a different root for a size it
already showed, or that cannot prove consistency, raises an alarm (exit 3) and the
offending checkpoint is kept as evidence. ``audit verify --witness`` then checks the
database's audit events against the newest witnessed checkpoint.

Witness directory::

    witness.json                 pinned log origin and key(s) (base64 DER SPKI), log URL
    latest-checkpoint.txt        the newest checkpoint that passed every check
    checkpoints/<size>-<t>.txt   every checkpoint accepted, as served
    alarms/<time>.txt            every checkpoint refused, with the reason
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import click

from certificates.fileio import atomic_write
from certificates.transparency import (
    Checkpoint,
    TransparencyError,
    parse_checkpoint,
    verify_checkpoint,
    verify_consistency,
)

EXIT_OK = 0
EXIT_UNCHECKED = 1
EXIT_ALARM = 3
CHECKPOINT_PATH = "/v1/transparency/checkpoint"


class CannotCheck(Exception):
    """The witness could not get what it needs (network, HTTP error, bad answer)."""


class Alarm(Exception):
    """The log misbehaved: truncated, rewritten, or signed by another key."""


# -- fetching ----------------------------------------------------------------------------
def _get(url: str, *, limit: int, timeout: float = 15.0) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise CannotCheck(f"not an http(s) URL: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (checked above)
            data: bytes = resp.read(limit + 1)
    except urllib.error.HTTPError as exc:
        raise CannotCheck(f"{url} answered HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise CannotCheck(f"cannot fetch {url}: {exc}") from None
    if len(data) > limit:
        raise CannotCheck(f"{url} answered more than {limit} bytes")
    return data


def _get_json(url: str) -> Any:
    try:
        return json.loads(_get(url, limit=1 << 20))
    except ValueError:
        raise CannotCheck(f"{url} did not answer JSON") from None


def log_base(url: str) -> str:
    base = url.rstrip("/")
    return base.removesuffix(CHECKPOINT_PATH)


def checkpoint_url(url: str) -> str:
    """A URL that names a checkpoint file is used as is; a service's base URL gets the
    checkpoint path appended."""
    path = urllib.parse.urlsplit(url).path
    if path.endswith(("/checkpoint", ".txt")):
        return url
    return log_base(url) + CHECKPOINT_PATH


def parse_key(value: str) -> bytes:
    """A log key given as base64 DER SPKI, or a file holding it (base64 or PEM)."""
    text = value
    path = Path(value)
    if len(value) < 4096 and "\n" not in value:
        try:
            if path.is_file():
                text = path.read_text()
        except OSError:
            pass
    lines = [ln.strip() for ln in text.strip().splitlines()
             if ln.strip() and not ln.startswith("-----")]
    try:
        return base64.b64decode("".join(lines), validate=True)
    except (binascii.Error, ValueError):
        raise click.BadParameter("the key must be a base64 DER SPKI or a file holding one",
                                 param_hint="--key") from None


# -- the witness's own store -------------------------------------------------------------
class WitnessStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def _config_path(self) -> Path:
        return self.root / "witness.json"

    def config(self) -> dict[str, Any]:
        if not self._config_path.exists():
            return {}
        try:
            data = json.loads(self._config_path.read_text())
        except ValueError:
            raise CannotCheck(f"{self._config_path} is not JSON") from None
        return data if isinstance(data, dict) else {}

    def pinned_keys(self) -> list[bytes]:
        return [base64.b64decode(k) for k in self.config().get("keys", [])]

    def save_config(self, *, origin: str, keys: list[bytes], log: str | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"origin": origin, "keys": [base64.b64encode(k).decode() for k in keys],
                "log": log}
        atomic_write(self._config_path, json.dumps(data, indent=2).encode())

    def latest_text(self) -> str | None:
        path = self.root / "latest-checkpoint.txt"
        return path.read_text() if path.exists() else None

    def latest(self) -> Checkpoint | None:
        text = self.latest_text()
        return None if text is None else parse_checkpoint(text)[0]

    def accept(self, cp: Checkpoint, text: str) -> None:
        (self.root / "checkpoints").mkdir(parents=True, exist_ok=True)
        stamp = int(cp.timestamp.timestamp())
        atomic_write(self.root / "checkpoints" / f"{cp.size:020d}-{stamp}.txt", text.encode())
        atomic_write(self.root / "latest-checkpoint.txt", text.encode())

    def alarm(self, text: str, reason: str, now: dt.datetime) -> Path:
        (self.root / "alarms").mkdir(parents=True, exist_ok=True)
        path = self.root / "alarms" / f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}.txt"
        atomic_write(path, f"{reason}\n\n{text}".encode())
        return path


@dataclasses.dataclass
class WitnessResult:
    status: str  # "first", "unchanged", "extended"
    message: str
    tree_size: int
    root_hash: str


def witness_once(url: str, store: WitnessStore, *, key: bytes | None = None,
                 now: dt.datetime | None = None,
                 max_age: dt.timedelta = dt.timedelta(hours=2)) -> WitnessResult:
    """Fetch, verify and store one checkpoint. Raises ``Alarm`` or ``CannotCheck`` (also
    for a checkpoint older than ``max_age``: a frozen log, or a replay in the middle)."""
    now = now or dt.datetime.now(dt.UTC)
    base = log_base(url)
    config = store.config()
    notes: list[str] = []
    if key is not None:
        keys = [key]
        if config.get("keys") and store.pinned_keys() != keys:
            notes.append("re-pinned the log key given with --key")
    else:
        keys = store.pinned_keys()
        if not keys:
            listed = _get_json(base + "/v1/transparency/key")
            try:
                keys = [base64.b64decode(k["spki"], validate=True) for k in listed["keys"]]
            except (KeyError, TypeError, binascii.Error, ValueError):
                raise CannotCheck("the log's key list is malformed") from None
            kids = ", ".join(k.get("kid", "?") for k in listed["keys"])
            notes.append(f"pinned the log key(s) {kids} on first use: compare with the"
                         " registry's published key")
    text_raw = _get(base + CHECKPOINT_PATH, limit=16384)
    try:
        text = text_raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CannotCheck("the checkpoint is not UTF-8") from None
    try:
        cp = verify_checkpoint(text, keys, origin=config.get("origin"))
    except TransparencyError as exc:
        if exc.code in ("tlog-bad-signature", "tlog-wrong-log"):
            raise Alarm(f"{exc.detail} (another key, another log, or a forgery)",
                        text) from None
        raise CannotCheck(f"malformed checkpoint: {exc.detail}") from None
    if now - cp.timestamp > max_age:
        raise CannotCheck(f"STALE: the checkpoint was signed at {cp.timestamp.isoformat()},"
                          f" more than {int(max_age.total_seconds())} s ago: the log is not"
                          " signing, or someone replays an old checkpoint")
    previous = store.latest()
    root_b64 = base64.b64encode(cp.root).decode()
    if previous is None:
        status, message = "first", f"first checkpoint: size {cp.size}"
    elif cp.size < previous.size:
        raise Alarm(f"the log SHRANK from {previous.size} to {cp.size} leaves: audit events"
                    " were deleted or the log was rolled back", text)
    elif cp.size == previous.size:
        if cp.root != previous.root:
            raise Alarm(f"two different roots for size {cp.size}: the log was REWRITTEN", text)
        status, message = "unchanged", f"no new events (size {cp.size})"
    else:
        if previous.size > 0:
            proof = _get_json(f"{base}/v1/transparency/proof/consistency"
                              f"?first={previous.size}&second={cp.size}")
            try:
                hashes = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
            except (KeyError, TypeError, binascii.Error, ValueError):
                raise CannotCheck("the consistency proof is malformed") from None
            try:
                verify_consistency(previous.size, cp.size, previous.root, cp.root, hashes)
            except TransparencyError as exc:
                raise Alarm(f"size {cp.size} does not extend the witnessed size"
                            f" {previous.size}: the log was REWRITTEN ({exc.detail})",
                            text) from None
        status, message = "extended", f"extended from {previous.size} to {cp.size} leaves"
    store.accept(cp, text)
    store.save_config(origin=cp.origin, keys=keys, log=base)
    return WitnessResult(status, "; ".join([message, *notes]), cp.size, root_b64)


@click.command("witness")
@click.argument("url")
@click.option("--store", "store_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="the witness's own directory of checkpoints")
@click.option("--key", "key_opt", default=None,
              help="log public key (base64 DER SPKI or a file); default: pinned, or pinned"
              " from the log on first use")
@click.option("--max-age", "max_age_s", type=click.IntRange(min=60), default=7200,
              show_default=True, help="seconds; an older checkpoint is not accepted")
@click.option("--json", "as_json", is_flag=True)
def witness(url: str, store_dir: Path, key_opt: str | None, max_age_s: int,
            as_json: bool) -> None:
    """Fetch the audit log's checkpoint from URL, check it and keep it.

    Exit 0: consistent with every checkpoint seen before. Exit 3: ALARM, the log was
    truncated, rewritten or signed by another key (the checkpoint is kept under
    alarms/). Exit 1: could not check (network, HTTP error, malformed answer, or a
    checkpoint older than --max-age)."""
    store = WitnessStore(store_dir)
    key = parse_key(key_opt) if key_opt else None
    now = dt.datetime.now(dt.UTC)
    try:
        result = witness_once(url, store, key=key, now=now,
                              max_age=dt.timedelta(seconds=max_age_s))
    except Alarm as exc:
        reason, text = exc.args
        evidence = store.alarm(text, reason, now)
        _say(as_json, {"ok": False, "alarm": True, "message": reason,
                       "evidence": str(evidence)}, f"ALARM: {reason} (kept in {evidence})")
        sys.exit(EXIT_ALARM)
    except CannotCheck as exc:
        _say(as_json, {"ok": False, "alarm": False, "message": str(exc)},
             f"could not check: {exc}")
        sys.exit(EXIT_UNCHECKED)
    _say(as_json, {"ok": True, **dataclasses.asdict(result)},
         f"checkpoint ok: {result.message}; root {result.root_hash}")


def _say(as_json: bool, data: dict[str, Any], text: str) -> None:
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo(text, err=not data.get("ok", False))


# -- verify --witness ------------------------------------------------------------------------
def _witnessed(source: str, key_opt: str | None) -> tuple[str, list[bytes] | None]:
    """The witnessed checkpoint's text and the keys to check it (None: local keyring)."""
    explicit = [parse_key(key_opt)] if key_opt else None
    path = Path(source)
    if path.is_dir():
        store = WitnessStore(path)
        text = store.latest_text()
        if text is None:
            raise CannotCheck(f"{path} holds no witnessed checkpoint yet")
        return text, explicit or store.pinned_keys()
    if source.startswith(("http://", "https://")):
        raw = _get(checkpoint_url(source), limit=16384)
        return raw.decode("utf-8", errors="replace"), explicit
    raise CannotCheck(f"{source} is neither a witness directory nor an http(s) URL")


def verify_with_witness(source: str, key_opt: str | None, as_json: bool) -> int:
    """Check the database's audit events against the newest witnessed checkpoint."""
    from api.runtime import open_runtime
    from certificates.signing.keyring import Keyring
    from certificates.transparency_log import log_origin, recompute
    from registry import audit as audit_mod
    from registry.settings import get_settings

    settings = get_settings()
    try:
        text, keys = _witnessed(source, key_opt)
        if keys is None:
            keys = [r.spki for r in Keyring(Path(settings.data_dir) / "keys").list_keys("log")]
        cp = verify_checkpoint(text, keys, origin=log_origin(settings.issuer))
    except CannotCheck as exc:
        _say(as_json, {"ok": False, "message": str(exc)}, f"could not check: {exc}")
        return EXIT_UNCHECKED
    except TransparencyError as exc:
        msg = f"the witnessed checkpoint does not verify: {exc.detail}"
        _say(as_json, {"ok": False, "message": msg}, msg)
        return EXIT_UNCHECKED
    rt = open_runtime(settings)
    try:
        with rt.db.transaction(readonly=True) as cur:
            chain = audit_mod.verify_chain(cur)
            rebuilt = recompute(cur, at_size=cp.size)
    finally:
        rt.close()
    problems: list[str] = []
    if not chain.ok:
        problems.append(f"hash chain broken at event {chain.first_bad_seq}: {chain.problem}")
    if rebuilt.stopped_at_gap is not None:
        problems.append(f"audit event {rebuilt.stopped_at_gap} is missing")
    when = cp.timestamp.isoformat()
    if rebuilt.tree_size < cp.size:
        problems.append(
            f"TRUNCATED: the database holds {rebuilt.tree_size} audit events but the"
            f" checkpoint witnessed at {when} covers {cp.size}: events were deleted")
    elif rebuilt.root_at != cp.root:
        where = ""
        if rebuilt.first_stored_mismatch is not None and rebuilt.first_stored_mismatch < cp.size:
            where = (f"; event {rebuilt.first_stored_mismatch + 1} differs from the leaf"
                     " the log recorded")
        problems.append(
            f"REWRITTEN: the first {cp.size} audit events do not give the root witnessed"
            f" at {when}{where}")
    if rebuilt.first_stored_mismatch is not None and not any(
            p.startswith("REWRITTEN") for p in problems):
        problems.append(f"event {rebuilt.first_stored_mismatch + 1} differs from the leaf the"
                        " log recorded when it was sequenced")
    ok = not problems
    data = {"ok": ok, "events": rebuilt.tree_size, "chain": dataclasses.asdict(chain),
            "witnessed": {"tree_size": cp.size, "root_hash": base64.b64encode(cp.root).decode(),
                          "timestamp": when},
            "problems": problems}
    if ok:
        text_out = (f"audit log intact: {rebuilt.tree_size} events; extends the checkpoint"
                    f" witnessed at {when} (size {cp.size})")
    else:
        text_out = "audit log BROKEN:\n" + "\n".join(f"  {p}" for p in problems)
    if as_json:
        click.echo(json.dumps(data))
    else:
        click.echo(text_out)
    return EXIT_OK if ok else 1


# -- sequencing from the command line -------------------------------------------------------
@click.command("checkpoint")
def checkpoint() -> None:
    """Sequence every pending audit event into the transparency log and print the
    newest signed checkpoint (what GET /v1/transparency/checkpoint serves). Use it once
    after upgrading a large registry, or from cron where no witness polls."""
    from api.cert_context import make_context
    from api.runtime import open_runtime
    from certificates.transparency_log import integrate, log_origin, publish_checkpoint
    from registry.settings import get_settings

    settings = get_settings()
    rt = open_runtime(settings)
    try:
        ctx = make_context(settings)
        total = 0
        while True:  # one transaction per 100,000 events
            with rt.db.transaction() as cur:
                done = integrate(cur)
            total += done.added
            if done.added == 0 or done.stopped_at_gap is not None:
                break
        with rt.db.transaction() as cur:
            published = publish_checkpoint(
                cur, signer=ctx.signer("log"), origin=log_origin(settings.issuer),
                now=dt.datetime.now(dt.UTC),
                max_age=dt.timedelta(seconds=settings.transparency_checkpoint_max_age_s))
    finally:
        rt.close()
    click.echo(f"sequenced {total} event(s); tree size {published.tree_size}", err=True)
    if done.stopped_at_gap is not None:
        click.echo(f"audit event {done.stopped_at_gap} is missing: run `guardreg audit verify`",
                   err=True)
    click.echo(published.note, nl=False)
    if done.stopped_at_gap is not None:
        sys.exit(1)
