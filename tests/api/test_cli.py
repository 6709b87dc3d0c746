"""The guardreg command line on the real stack."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import psycopg2
import psycopg2.extras
import pytest
from click.testing import CliRunner
from PIL import Image

from api.cli import main
from registry.settings import reset_settings_cache
from tests.api.live_server import serve
from tests.conftest import (
    FINGERS,
    PEOPLE,
    SHARED_DATA,
    Api,
    make_issuable_guard,
    make_principal,
    texted_code,
)
from tests.conftest import random_id_number as rid

DCC = SHARED_DATA / "cose" / "dgc-common"


def test_report_capture_rate_table_csv_and_plot(cli_env: None, regulator: Api,
                                                tmp_path: Path) -> None:
    company = regulator.make_company(district="红桥区")
    make_issuable_guard(regulator, company["id"])
    table = CliRunner().invoke(main, ["report", "capture-rate", "--by", "district"])
    assert table.exit_code == 0, table.output
    assert "红桥区" in table.output
    as_csv = CliRunner().invoke(main, ["report", "capture-rate", "--csv", "--by", "company"])
    rows = list(csv.DictReader(io.StringIO(as_csv.output)))
    mine = next(r for r in rows if r["key"] == str(company["id"]))
    assert mine["capture_rate"] == "1.0"
    plot = tmp_path / "rate.png"
    result = CliRunner().invoke(main, ["report", "capture-rate", "--plot", str(plot)])
    assert result.exit_code == 0
    img = Image.open(plot).convert("RGB")
    colours = {img.getpixel((x, y)) for x in range(0, img.width, 7)
               for y in range(0, img.height, 7)}
    assert (46, 125, 50) in colours or (198, 40, 40) in colours or (249, 168, 37) in colours


def test_enroll_batch_enrolls_reports_and_resumes(cli_env: None, app: Any, runtime: Any,
                                                  client: Any, regulator: Api,
                                                  tmp_path: Path) -> None:
    company = regulator.make_company()
    operator = make_principal(runtime, client, "company_operator", company_id=company["id"])
    media = tmp_path / "media"
    media.mkdir()
    (media / "zz.jpg").write_bytes((PEOPLE / "Zhang_Ziyi_0001_x2.jpg").read_bytes())
    (media / "f1.png").write_bytes((FINGERS / "105_1.png").read_bytes())
    (media / "f2.png").write_bytes((FINGERS / "106_1.png").read_bytes())
    sheet = tmp_path / "staff.csv"
    sheet.write_text(
        "name,id_number,phone,photo,finger_2,finger_7\n"
        f"章子,{rid()},13800000001,zz.jpg,f1.png,f2.png\n"
        f"错号,110105194912310021,13800000002,,,\n"
        f"无照,{rid()},13800000003,,,\n", encoding="utf-8")
    report = tmp_path / "report.csv"
    with serve(app) as base:
        args = ["enroll-batch", str(sheet), "--media", str(media), "--server", base,
                "--api-key", operator.key, "--report", str(report)]
        # A company operator's run: first the people confirm with the codes texted to
        # them (issue 14), which go in the consent_code column.
        asking = CliRunner().invoke(main, args)
        assert asking.exit_code == 3, asking.output
        asked = {int(r["line"]): r for r in csv.DictReader(report.open(encoding="utf-8"))}
        assert asked[2]["status"] == asked[4]["status"] == "awaiting-confirmation"
        lines = sheet.read_text(encoding="utf-8").splitlines()
        codes = ["consent_code", texted_code(runtime, "13800000001"), "",
                 texted_code(runtime, "13800000003")]
        sheet.write_text("\n".join(f"{line},{code}" for line, code in zip(lines, codes,
                                                                          strict=True))
                         + "\n", encoding="utf-8")
        first = CliRunner().invoke(main, args)
        assert first.exit_code == 3, first.output  # finished, with a rejected row
        rows = {int(r["line"]): r for r in csv.DictReader(report.open(encoding="utf-8"))}
        assert rows[2]["status"] in ("enrolled", "held")
        assert rows[3]["status"] == "rejected"
        assert "check character" in rows[3]["detail"]
        assert rows[4]["status"] == "unchanged"
        assert "********" in rows[2]["id_number"]  # the report does not repeat ID numbers
        second = CliRunner().invoke(main, args)
        assert second.exit_code == 3
        again = {int(r["line"]): r for r in csv.DictReader(report.open(encoding="utf-8"))}
        assert again[2]["status"] == "unchanged"
        # The same ID number under another name is not "unchanged": it is a conflict.
        lines = sheet.read_text(encoding="utf-8").splitlines()
        sheet.write_text("\n".join([lines[0], lines[1].replace("章子", "章小"), lines[3]]) + "\n",
                         encoding="utf-8")
        third = CliRunner().invoke(main, args)
        assert third.exit_code == 3, third.output
        renamed = {int(r["line"]): r for r in csv.DictReader(report.open(encoding="utf-8"))}
        assert renamed[2]["status"] == "rejected" and "another name" in renamed[2]["detail"]
        assert renamed[3]["status"] == "unchanged"
    guards = operator.get("/v1/guards").json()["items"]
    assert len(guards) == 2  # no duplicates after the re-run
    status = operator.get(f"/v1/guards/{guards[0]['id']}/biometrics").json()
    assert status["face"] in ("enrolled", "held")
    assert len(status["fingers"]) == 2


def _dcc_vectors() -> list[Path]:
    return sorted(p for p in DCC.glob("*.json")
                  if "EXPECTEDVERIFY" in json.loads(p.read_text())["EXPECTEDRESULTS"])


@pytest.mark.parametrize("vector", _dcc_vectors(), ids=lambda p: p.stem)
def test_cose_verify_cli_gives_every_expected_dcc_verdict(vector: Path) -> None:
    d = json.loads(vector.read_text())
    ctx = d["TESTCTX"]
    result = CliRunner().invoke(main, ["cose", "verify", "--cert", ctx["CERTIFICATE"], "--at",
                                       ctx["VALIDATIONCLOCK"], d["PREFIX"]])
    verdict = json.loads(result.output)
    expected = d["EXPECTEDRESULTS"]["EXPECTEDVERIFY"]
    assert verdict["stages"]["verify"] is expected, verdict
    assert (result.exit_code == 0) == bool(verdict["valid"])


def test_key_rotation_keeps_old_certificates_verifiable(cli_env: None, runtime: Any,
                                                        regulator: Api, officer: Api) -> None:
    company = regulator.make_company()
    g1 = make_issuable_guard(regulator, company["id"])
    old = regulator.post(f"/v1/guards/{g1['id']}/certificate").json()
    rotated = CliRunner().invoke(main, ["keys", "rotate", "--purpose", "certificate"])
    assert rotated.exit_code == 0, rotated.output
    runtime.certs.forget()
    listing = json.loads(CliRunner().invoke(main, ["keys", "list", "--json"]).output)
    cert_keys = [k for k in listing if k["purpose"] == "certificate"]
    assert sorted(k["state"] for k in cert_keys)[-2:] == ["active", "retired"]
    g2 = make_issuable_guard(regulator, company["id"])
    new = regulator.post(f"/v1/guards/{g2['id']}/certificate").json()
    assert officer.post("/v1/verifications", json={"text": old["text"]}).json()["verdict"] == \
        "valid"
    assert officer.post("/v1/verifications", json={"text": new["text"]}).json()["verdict"] == \
        "valid"


def test_portraits_backfill_faces_enrolled_before_portraits(cli_env: None, runtime: Any,
                                                            regulator: Api, officer: Api) -> None:
    import base64

    from biometrics.enrollment import DISPLAY_SIZE

    guard = make_issuable_guard(regulator, regulator.make_company()["id"])
    cert = regulator.post(f"/v1/guards/{guard['id']}/certificate").json()

    def shown_size() -> tuple[int, int]:
        answer = officer.post("/v1/verifications", json={"text": cert["text"]}).json()
        data = base64.b64decode(answer["photo"].split(",", 1)[1])
        return Image.open(io.BytesIO(data)).size

    assert shown_size() == DISPLAY_SIZE
    with runtime.db.transaction() as cur:  # as enrolled before migration 0102
        cur.execute("UPDATE biometrics_face f SET display_sealed = NULL FROM registry_guard g"
                    " WHERE g.biometric_subject = f.subject AND g.public_id = %s", (guard["id"],))
    assert shown_size() != DISPLAY_SIZE  # falls back to the stored photo
    result = CliRunner().invoke(main, ["biometrics", "portraits", "--batch", "1"])
    assert result.exit_code == 0, result.output
    assert int(result.output.split()[0]) >= 1
    assert shown_size() == DISPLAY_SIZE
    again = CliRunner().invoke(main, ["biometrics", "portraits"])
    assert again.output.strip() == "0 portraits made"


def test_reencode_moves_faces_of_an_older_model_to_the_current_one(
        cli_env: None, runtime: Any, regulator: Api, officer: Api) -> None:
    from biometrics.face.pipeline import MODEL_ID, model_id_for

    guard = make_issuable_guard(regulator, regulator.make_company()["id"])
    with runtime.db.transaction() as cur:
        cur.execute("SELECT f.subject::text AS subject, f.embedding::text AS e"
                    " FROM biometrics_face f JOIN registry_guard g"
                    " ON g.biometric_subject = f.subject WHERE g.public_id = %s", (guard["id"],))
        row = cur.fetchone()
        # As stored by the previous default model: another id, a stale vector.
        cur.execute("UPDATE biometrics_face SET model = %s,"
                    " embedding = array_fill(0.1::real, ARRAY[128])::vector"
                    " WHERE subject = %s", (model_id_for(68, True), row["subject"]))
    result = CliRunner().invoke(main, ["biometrics", "reencode", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert int(result.output.split()[0]) >= 1
    with runtime.db.transaction(readonly=True) as cur:
        cur.execute("SELECT model, embedding::text AS e FROM biometrics_face"
                    " WHERE subject = %s", (row["subject"],))
        after = cur.fetchone()
        cur.execute("SELECT count(*) AS n FROM registry_audit_event"
                    " WHERE action = 'biometrics.face.reencode'")
        audited = cur.fetchone()["n"]
    assert after["model"] == MODEL_ID
    before = np.array(json.loads(row["e"]))
    # The same photo (as stored: re-encoded JPEG) through the same pipeline: the
    # template comes back, not the stale vector (distances between people are ~0.8).
    assert float(np.linalg.norm(np.array(json.loads(after["e"])) - before)) < 0.05
    assert audited >= 1
    again = CliRunner().invoke(main, ["biometrics", "reencode"])
    assert again.output.startswith("0 faces re-encoded")


def test_rotate_secret_moves_every_sealed_record_and_vector(
        pg_server: str, template_db: str, data_dir: Path, clock: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from api.biometric_context import biometric_keys
    from biometrics.enrollment import display_aad, photo_aad
    from biometrics.finger_search import finger_aad
    from biometrics.repository import parse_vector
    from biometrics.sealing import SealError
    from tests.conftest import isolated_stack

    with isolated_stack(pg_server, template_db, data_dir, clock) as (rt, client):
        reg = make_principal(rt, client, "regulator")
        make_issuable_guard(reg, reg.make_company()["id"])  # a face and two fingers
        settings, dsn = rt.settings, rt.db.dsn
    old_secret = settings.biometric_secret.get_secret_value()
    old_sealer, old_vectors = biometric_keys(old_secret, settings.biometric_cipher)

    def state() -> tuple[Any, list[Any]]:
        conn = psycopg2.connect(dsn)
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute("SELECT subject::text AS subject, photo_sealed, display_sealed,"
                            " embedding::text AS e, transform_kid FROM biometrics_face")
                face = cur.fetchone()
                cur.execute("SELECT subject::text AS subject, position, template_sealed"
                            " FROM biometrics_finger ORDER BY position")
                return face, cur.fetchall()
        finally:
            conn.close()

    face, fingers = state()
    subject = face["subject"]
    photo = old_sealer.open(bytes(face["photo_sealed"]), aad=photo_aad(subject))
    raw = old_vectors.unprotect(parse_vector(face["e"]))
    templates = [old_sealer.open(bytes(f["template_sealed"]),
                                 aad=finger_aad(subject, f["position"])) for f in fingers]
    assert len(templates) >= 2

    new_secret = "rotated-" + rid()
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("GUARDREG_MODE", "test")
    monkeypatch.setenv("GUARDREG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GUARDREG_BIOMETRIC_SECRET", new_secret)
    monkeypatch.setenv("GUARDREG_BIOMETRIC_SECRET_OLD", old_secret)
    reset_settings_cache()
    try:
        result = CliRunner().invoke(main, ["biometrics", "rotate-secret", "--batch", "1"])
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"1 faces and {len(templates)} finger templates")
        again = CliRunner().invoke(main, ["biometrics", "rotate-secret"])
        assert again.output.startswith("0 faces and 0 finger templates"), again.output
    finally:
        reset_settings_cache()

    new_sealer, new_vectors = biometric_keys(new_secret, settings.biometric_cipher)
    face, fingers = state()
    assert face["transform_kid"] == new_vectors.key_id != old_vectors.key_id
    assert new_sealer.open(bytes(face["photo_sealed"]), aad=photo_aad(subject)) == photo
    new_sealer.open(bytes(face["display_sealed"]), aad=display_aad(subject))
    with pytest.raises(SealError):
        old_sealer.open(bytes(face["photo_sealed"]), aad=photo_aad(subject))
    moved = parse_vector(face["e"])
    assert np.allclose(moved, new_vectors.protect(raw), atol=1e-5)
    assert not np.allclose(moved, old_vectors.protect(raw), atol=1e-2)
    assert [new_sealer.open(bytes(f["template_sealed"]), aad=finger_aad(subject, f["position"]))
            for f in fingers] == templates
