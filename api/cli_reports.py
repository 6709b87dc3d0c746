"""``guardreg report`` and ``guardreg enroll-batch``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import click

from api import csv_export
from api.runtime import open_runtime
from registry.settings import get_settings


@click.group()
def report() -> None:
    """Reports for the regulator."""


@report.command("capture-rate")
@click.option("--by", type=click.Choice(["city", "district", "company"]), default="district",
              show_default=True)
@click.option("--csv", "as_csv", is_flag=True, help="CSV on standard output")
@click.option("--plot", "plot", type=click.Path(dir_okay=False), help="write a PNG bar chart")
def capture_rate(by: str, as_csv: bool, plot: str | None) -> None:
    """Share of active guards with photo and 2+ fingerprints; certificates among eligible."""
    from api import reporting_repository
    from api.charts import bar_chart

    rt = open_runtime(get_settings())
    try:
        with rt.db.transaction(readonly=True) as cur:
            rows = reporting_repository.capture_rate(cur, by=by, now=dt.datetime.now(dt.UTC))
    finally:
        rt.close()
    fields = ["key", "label", "active_guards", "with_photo", "with_two_fingers", "captured",
              "capture_rate", "eligible", "eligible_with_certificate", "certificate_rate"]
    if as_csv:
        out = io.StringIO()
        writer = csv_export.dict_writer(out, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
    else:
        from api.cli_text import table

        headers = ["", "active", "photo", "2 fing", "captured", "rate", "eligible", "w/ cert"]
        body = [[str(r["label"]), str(r["active_guards"]), str(r["with_photo"]),
                 str(r["with_two_fingers"]), str(r["captured"]),
                 "-" if r["capture_rate"] is None else f"{100 * r['capture_rate']:.1f}%",
                 str(r["eligible"]), str(r["eligible_with_certificate"])] for r in rows]
        click.echo(table(headers, body, right=[False] + [True] * 7))
    if plot:
        bars = [(str(r["label"]), float(r["capture_rate"] or 0.0),
                 f"{r['captured']}/{r['active_guards']}") for r in rows]
        Path(plot).write_bytes(bar_chart(f"采集率 capture rate by {by}", bars))
        click.echo(f"chart written to {plot}", err=True)


# -- bulk enrollment ------------------------------------------------------------------------
# Exit status of enroll-batch: 0 every row enrolled (or held for review, or already done),
# 1 the whole run failed, 3 the run finished but some rows were rejected (see the report),
# 4 none rejected but some await the person's confirmation code (issue 14).
EXIT_ROWS_REJECTED = 3
EXIT_ROWS_AWAITING = 4
AWAITING_DETAIL = ("a confirmation code was texted to the person: put it in the consent_code "
                   "column and run again")
def _call(base: str, key: str, method: str, path: str, *, body: bytes | None = None,
          content_type: str | None = None, idem: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    if idem:
        headers["Idempotency-Key"] = idem
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 (http(s) base)
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, {"detail": str(exc)}


def _multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class _Media:
    """Photos and fingerprint images from a folder or a ZIP, by file name."""

    def __init__(self, source: str | None) -> None:
        self.zip: zipfile.ZipFile | None = None
        self.dir: Path | None = None
        if source and zipfile.is_zipfile(source):
            self.zip = zipfile.ZipFile(source)
        elif source:
            self.dir = Path(source)

    def read(self, name: str) -> bytes:
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise click.ClickException(f"unsafe file name {name!r}")
        if self.zip is not None:
            info = self.zip.getinfo(name)
            if info.file_size > 20 * 1024 * 1024:
                raise click.ClickException(f"{name} is too large in the ZIP")
            return self.zip.read(info)
        if self.dir is None:
            raise click.ClickException("no --media folder or ZIP given")
        return (self.dir / name).read_bytes()


@click.command("enroll-batch")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--media", help="folder or ZIP holding the photo and fingerprint files")
@click.option("--server", default=None,
              help="base URL (default: GUARDREG_PUBLIC_BASE_URL, else the URL `guardreg "
                   "serve` recorded for this user)")
@click.option("--api-key", envvar="GUARDREG_API_KEY", required=True,
              help="company operator (or regulator) key; env GUARDREG_API_KEY")
@click.option("--company", "company_id", type=int, default=None, help="for a regulator key")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="write the per-row report as CSV")
def enroll_batch(csv_file: str, media: str | None, server: str | None, api_key: str,
                 company_id: int | None, report_path: str | None) -> None:
    """Enroll staff from a CSV file with their photos and fingerprint images.

    Columns: name,id_number[,phone,education,started_on,consent_code,photo,
    finger_<position>...] (consent_code: for a company operator, the code texted to the
    person after a first run, or the person's one-time hire code from their guard page)
    (positions 1-10, ISO 19794-2: 1 right thumb ... 6 left thumb). Re-runs resume.
    Exit status: 0 all rows done (enrolled, held for review or already done), 1 the run
    failed, 3 some rows were rejected (listed on standard error and in --report), 4 some
    rows await the person's confirmation code (status awaiting-confirmation)."""
    from api.cli_config import base_url

    base = base_url(server, get_settings())
    raw = Path(csv_file).read_bytes()
    text = raw.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    person_cols = ["name", "id_number", "phone", "education", "started_on", "consent_code"]
    present = [c for c in person_cols if rows and c in rows[0]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(present)
    for r in rows:
        writer.writerow([r.get(c, "") for c in present])
    query = f"?company_id={company_id}" if company_id else ""
    status, summary = _call(base, api_key, "POST", "/v1/guards/import" + query,
                            body=out.getvalue().encode(), content_type="text/csv")
    if status != 200:
        raise click.ClickException(f"import refused ({status}): {summary.get('detail')}")
    rejected = {r["line"]: r["reason"] for r in summary["rejected"]}
    awaiting = {r["line"] for r in summary.get("awaiting_confirmation", [])}
    media_src = _Media(media)
    results: list[dict[str, Any]] = []
    by_line = {e["line"]: str(e["guard_id"]) for e in summary["enrolled"] + summary["existing"]}
    with click.progressbar(list(enumerate(rows, start=2)), label="capturing",
                           file=sys.stderr) as bar:
        for line, row in bar:
            outcome: dict[str, Any] = {"line": line, "id_number": row.get("id_number", "")[:6]
                                       + "********", "status": "", "detail": ""}
            if line in rejected:
                outcome.update(status="rejected", detail=rejected[line])
                results.append(outcome)
                continue
            if line in awaiting:
                outcome.update(status="awaiting-confirmation", detail=AWAITING_DETAIL)
                results.append(outcome)
                continue
            guard_id = by_line.get(line)
            if guard_id is None:
                outcome.update(status="rejected", detail="not found after import")
                results.append(outcome)
                continue
            outcome.update(_capture(base, api_key, guard_id, row, media_src))
            results.append(outcome)
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    click.echo(" ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    if report_path:
        with open(report_path, "w", newline="", encoding="utf-8") as fh:
            w = csv_export.dict_writer(fh, ["line", "id_number", "status", "detail"])
            w.writeheader()
            w.writerows(results)
    for r in results:
        if r["status"] == "rejected":
            click.echo(f"line {r['line']}: {r['detail']}", err=True)
    if counts.get("rejected"):
        sys.exit(EXIT_ROWS_REJECTED)
    if counts.get("awaiting-confirmation"):
        sys.exit(EXIT_ROWS_AWAITING)


def _capture(base: str, key: str, guard_id: str, row: dict[str, str],
             media: _Media) -> dict[str, str]:
    status_code, current = _call(base, key, "GET", f"/v1/guards/{guard_id}/biometrics")
    done_face = status_code == 200 and current.get("face") in ("enrolled", "held")
    done_fingers = {f["position"] for f in current.get("fingers", [])} if status_code == 200 \
        else set()
    held, notes = False, []
    uploads: list[tuple[str, str, str]] = []
    if row.get("photo") and not done_face:
        uploads.append(("face", "photo", row["photo"]))
    for col, value in row.items():
        if col.startswith("finger_") and value:
            pos = col.split("_", 1)[1]
            if pos.isdigit() and int(pos) not in done_fingers:
                uploads.append((f"fingers/{pos}", "image", value))
    for path, field, name in uploads:
        body, ctype = _multipart(field, name, media.read(name))
        code, resp = _call(base, key, "POST", f"/v1/guards/{guard_id}/{path}", body=body,
                           content_type=ctype)
        if code == 202:
            held = True
        elif code >= 400:
            return {"status": "rejected", "detail": f"{name}: {resp.get('detail')}"}
        notes.append(f"{path}:{code}")
    if held:
        return {"status": "held", "detail": "possible duplicate identity: regulator review"}
    return {"status": "enrolled" if uploads else "unchanged", "detail": " ".join(notes)}
