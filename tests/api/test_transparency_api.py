"""The audit transparency log through the service and the CLI: endpoints, a witness on a
real port, and the two attacks of issue 14 (truncate, rewrite-and-rechain)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main
from certificates.transparency import (
    CompactRange,
    leaf_hash,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from registry import audit
from registry.settings import reset_settings_cache
from tests.api.live_server import serve
from tests.conftest import make_principal, random_id_number


def _b(s: str) -> bytes:
    return base64.b64decode(s)


def _events(rt: Any, n: int, tag: str = "e") -> None:
    with rt.db.transaction() as cur:
        for i in range(n):
            audit.record(cur, actor=audit.SYSTEM, action="test.event", target_type="t",
                         target_id=f"{tag}{i}")


@pytest.fixture
def stack(fresh_runtime: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """A database of its own (the tests tamper with it), its app, and the CLI's settings."""
    monkeypatch.setenv("DATABASE_URL", fresh_runtime.db.dsn)
    monkeypatch.setenv("GUARDREG_MODE", "test")
    monkeypatch.setenv("GUARDREG_DATA_DIR", str(fresh_runtime.settings.data_dir))
    reset_settings_cache()
    # A new checkpoint on every request here (the default is at most one per 10 s).
    fresh_runtime.settings = fresh_runtime.settings.model_copy(
        update={"transparency_checkpoint_interval_s": 0})
    app = create_app(runtime=fresh_runtime)
    yield fresh_runtime, app
    reset_settings_cache()


def test_endpoints_give_verifiable_proofs_and_no_personal_data(stack: tuple[Any, Any]) -> None:
    rt, app = stack
    with TestClient(app, raise_server_exceptions=False) as client:
        reg = make_principal(rt, client, "regulator")
        company = reg.make_company()
        id_number = random_id_number()
        guard = reg.make_guard(company["id"], name="审计测试人", id_number=id_number,
                               phone="13912345678")
        key = client.get("/v1/transparency/key").json()
        spkis = [_b(k["spki"]) for k in key["keys"]]
        first = client.get("/v1/transparency/checkpoint")
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain")
        cp1 = verify_checkpoint(first.text, spkis, origin=key["origin"])
        reg.patch(f"/v1/guards/{guard['id']}", json={"education": "college"})
        cp2 = verify_checkpoint(client.get("/v1/transparency/checkpoint").text, spkis)
        assert cp2.size > cp1.size >= 2

        with rt.db.transaction(readonly=True) as cur:
            digests = audit.event_digests(cur, after_seq=0, limit=1000)
        leaves = [leaf_hash(d) for _, d in digests][:cp2.size]
        for index in range(cp2.size):
            proof = client.get(f"/v1/transparency/proof/inclusion?index={index}&size={cp2.size}")
            assert proof.status_code == 200, proof.text
            body = proof.json()
            assert _b(body["leaf_hash"]) == leaves[index] and body["seq"] == index + 1
            verify_inclusion(index, cp2.size, leaves[index], [_b(h) for h in body["hashes"]],
                             cp2.root)
        by_seq = client.get(f"/v1/transparency/proof/inclusion?seq=1&size={cp2.size}").json()
        assert by_seq["index"] == 0
        cons = client.get(f"/v1/transparency/proof/consistency?first={cp1.size}"
                          f"&second={cp2.size}").json()
        verify_consistency(cp1.size, cp2.size, cp1.root, cp2.root, [_b(h) for h in cons["hashes"]])
        page = client.get(f"/v1/transparency/leaves?start=0&end={cp2.size}").json()
        assert [_b(h) for h in page["leaf_hashes"]] == leaves
        edge = CompactRange()
        for leaf in leaves:
            edge.append(leaf)
        assert edge.root() == cp2.root  # an auditor rebuilds the root from the leaf page

        public = [first.text, client.get("/v1/transparency/key").text,
                  client.get(f"/v1/transparency/leaves?start=0&end={cp2.size}").text,
                  client.get(f"/v1/transparency/proof/consistency?first=1&second={cp2.size}").text,
                  client.get(f"/v1/transparency/proof/inclusion?seq=2&size={cp2.size}").text]
        for text in public:
            for secret in (id_number, "审计测试人", "13912345678", "\\u5ba1"):
                assert secret not in text


BAD_QUERIES = [
    "proof/inclusion?index=-1&size=3", "proof/inclusion?index=abc&size=3",
    "proof/inclusion?size=3", "proof/inclusion?index=0&seq=1&size=3",
    "proof/inclusion?index=0", "proof/inclusion?index=5&size=3",
    "proof/inclusion?index=0&size=99999", "proof/inclusion?seq=0&size=3",
    "proof/inclusion?index=0&size=99999999999999999999999",
    "proof/consistency?first=0&second=3", "proof/consistency?first=3&second=2",
    "proof/consistency?first=1&second=99999", "proof/consistency?first=1",
    "leaves?start=0&end=0", "leaves?start=0&end=1001", "leaves?start=0&end=99999",
    "leaves?start=-5&end=2", "leaves?start=x&end=2",
]


def test_bad_parameters_are_4xx_problems(stack: tuple[Any, Any]) -> None:
    rt, app = stack
    _events(rt, 3)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/transparency/checkpoint").status_code == 200
        assert client.get("/v1/transparency/proof/inclusion?index=2&size=3").status_code == 200
        for query in BAD_QUERIES:
            resp = client.get("/v1/transparency/" + query)
            assert 400 <= resp.status_code < 500, (query, resp.text)
            assert resp.headers["content-type"] == "application/problem+json", query


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _truncate(rt: Any, keep: int, *, also_the_log: bool) -> None:
    """The attacker of issue 14: delete the newest events and move the chain head back
    (and, with ``also_the_log``, the transparency log's nodes and checkpoints as well)."""
    with rt.db.transaction() as cur:
        cur.execute("ALTER TABLE registry_audit_event DISABLE TRIGGER USER")
        cur.execute("DELETE FROM registry_audit_event WHERE seq > %s", (keep,))
        cur.execute("ALTER TABLE registry_audit_event ENABLE TRIGGER USER")
        cur.execute("UPDATE registry_audit_head SET seq = %s,"
                    " hash = (SELECT hash FROM registry_audit_event WHERE seq = %s)",
                    (keep, keep))
        if also_the_log:
            for table in ("certificates_log_node", "certificates_log_checkpoint"):
                cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            cur.execute("DELETE FROM certificates_log_node WHERE ((idx + 1) << level) > %s",
                        (keep,))
            cur.execute("DELETE FROM certificates_log_checkpoint")
            for table in ("certificates_log_node", "certificates_log_checkpoint"):
                cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _rewrite(rt: Any, seq: int) -> None:
    """The attacker of issue 14: rewrite one event and recompute every later chain hash."""
    with rt.db.transaction() as cur:
        cur.execute("ALTER TABLE registry_audit_event DISABLE TRIGGER USER")
        cur.execute("UPDATE registry_audit_event SET actor = 'regulator:999' WHERE seq = %s",
                    (seq,))
        cur.execute("SELECT * FROM registry_audit_event WHERE seq >= %s ORDER BY seq", (seq,))
        rows = cur.fetchall()
        cur.execute("SELECT hash FROM registry_audit_event WHERE seq = %s", (seq - 1,))
        prev = bytes(cur.fetchone()["hash"]) if seq > 1 else audit.GENESIS
        for row in rows:
            fields = audit._fields(row["seq"], row["occurred_at"], row["actor"], row["action"],
                                   row["target_type"], row["target_id"], row["request_id"],
                                   row["data"])
            digest = audit.event_hash(prev, fields)
            cur.execute("UPDATE registry_audit_event SET prev_hash = %s, hash = %s"
                        " WHERE seq = %s", (prev, digest, row["seq"]))
            prev = digest
        cur.execute("ALTER TABLE registry_audit_event ENABLE TRIGGER USER")
        cur.execute("UPDATE registry_audit_head SET hash = %s", (prev,))


def test_honest_appends_are_witnessed_and_verify(stack: tuple[Any, Any], tmp_path: Path) -> None:
    rt, app = stack
    store = tmp_path / "witness"
    _events(rt, 4)
    with serve(app) as url:
        first = _cli("audit", "witness", url, "--store", str(store))
        assert first.exit_code == 0, first.output
        assert "first checkpoint: size 4" in first.output and "pinned" in first.output
        _events(rt, 5, tag="more")
        second = _cli("audit", "witness", url, "--store", str(store))
        assert second.exit_code == 0 and "extended from 4 to 9" in second.output, second.output
        again = _cli("audit", "witness", url + "/v1/transparency/checkpoint", "--store",
                     str(store))
        assert again.exit_code == 0 and "no new events" in again.output, again.output
        _events(rt, 2, tag="after")  # not witnessed yet: the database may be ahead
        ok = _cli("audit", "verify", "--witness", str(store))
        assert ok.exit_code == 0 and "11 events" in ok.output, ok.output
        by_url = _cli("audit", "verify", "--witness", url, "--json")
        assert by_url.exit_code == 0, by_url.output
    assert len(list((store / "checkpoints").iterdir())) == 2
    assert _cli("audit", "verify").exit_code == 0
    # The operator's sequencer command signs the same tree the endpoint would.
    _events(rt, 3, tag="cron")
    made = _cli("audit", "checkpoint")
    assert made.exit_code == 0, made.output
    listing = json.loads(_cli("keys", "list", "--json").output)
    spkis = [base64.b64decode(k["spki"]) for k in listing if k["purpose"] == "log"]
    assert "sequenced 3 event(s); tree size 14" in made.output
    signed = made.output[made.output.index("guardreg-dev/audit-log\n"):]
    assert verify_checkpoint(signed, spkis).size == 14


def test_truncation_is_detected(stack: tuple[Any, Any], tmp_path: Path) -> None:
    rt, app = stack
    store = tmp_path / "witness"
    _events(rt, 8)
    with serve(app) as url:
        assert _cli("audit", "witness", url, "--store", str(store)).exit_code == 0
        _truncate(rt, 5, also_the_log=False)
        chain_only = _cli("audit", "verify")
        assert chain_only.exit_code == 0, chain_only.output  # the chain alone cannot tell
        caught = _cli("audit", "verify", "--witness", str(store))
        assert caught.exit_code == 1 and "TRUNCATED" in caught.output, caught.output
        assert "holds 5 audit events" in caught.output and "covers 8" in caught.output

        # The insider rolls the log back too: the witness sees it shrink.
        _truncate(rt, 5, also_the_log=True)
        shrunk = _cli("audit", "witness", url, "--store", str(store))
        assert shrunk.exit_code == 3 and "SHRANK from 8 to 5" in shrunk.output, shrunk.output
        # ... and grows it back with other events: a different tree of the same size.
        _events(rt, 3, tag="cover")
        regrown = _cli("audit", "witness", url, "--store", str(store))
        assert regrown.exit_code == 3 and "REWRITTEN" in regrown.output, regrown.output
        assert _cli("audit", "verify", "--witness", str(store)).exit_code == 1
    assert len(list((store / "alarms").iterdir())) == 2
    assert (store / "latest-checkpoint.txt").read_text().split("\n")[1] == "8"


def test_rewrite_and_rechain_is_detected(stack: tuple[Any, Any], tmp_path: Path) -> None:
    rt, app = stack
    store = tmp_path / "witness"
    _events(rt, 10)
    with serve(app) as url:
        assert _cli("audit", "witness", url, "--store", str(store)).exit_code == 0
        _rewrite(rt, 4)
        chain_only = _cli("audit", "verify")
        assert chain_only.exit_code == 0, chain_only.output  # the chain alone cannot tell
        caught = _cli("audit", "verify", "--witness", str(store))
        assert caught.exit_code == 1 and "REWRITTEN" in caught.output, caught.output
        assert "event 4 differs" in caught.output
        by_url = _cli("audit", "verify", "--witness", url)
        assert by_url.exit_code == 1 and "REWRITTEN" in by_url.output, by_url.output
        # The log itself did not change: the witness stays calm, the database is the liar.
        assert _cli("audit", "witness", url, "--store", str(store)).exit_code == 0


def test_a_checkpoint_signed_by_another_key_is_an_alarm(stack: tuple[Any, Any],
                                                        tmp_path: Path) -> None:
    from certificates.signing.keyring import Keyring

    rt, app = stack
    other = Keyring(tmp_path / "other", passphrase=b"q" * 40).generate(
        "log", now=dt.datetime.now(dt.UTC))
    _events(rt, 2)
    with serve(app) as url:
        wrong = _cli("audit", "witness", url, "--store", str(tmp_path / "w"), "--key",
                     base64.b64encode(other.spki).decode())
        assert wrong.exit_code == 3 and "ALARM" in wrong.output, wrong.output
        assert not (tmp_path / "w" / "latest-checkpoint.txt").exists()
        down = _cli("audit", "witness", "http://127.0.0.1:9", "--store", str(tmp_path / "w"))
        assert down.exit_code == 1 and "could not check" in down.output, down.output


def test_a_stale_checkpoint_is_not_accepted(stack: tuple[Any, Any], tmp_path: Path) -> None:
    rt, _ = stack
    _events(rt, 2)
    three_hours_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    frozen = create_app(runtime=rt, clock=lambda: three_hours_ago)
    with serve(frozen) as url:
        stale = _cli("audit", "witness", url, "--store", str(tmp_path / "w"))
        assert stale.exit_code == 1 and "STALE" in stale.output, stale.output
        lenient = _cli("audit", "witness", url, "--store", str(tmp_path / "w"),
                       "--max-age", str(4 * 3600))
        assert lenient.exit_code == 0, lenient.output
    assert not (tmp_path / "w" / "alarms").exists()
