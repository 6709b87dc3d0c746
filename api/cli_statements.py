"""``guardreg statements verify``: check a signed credit statement offline."""

from __future__ import annotations

import base64
import binascii
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from api import statements


def _read(source: str, limit: int) -> bytes:
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=15) as resp:  # noqa: S310 (checked)
                data: bytes = resp.read(limit + 1)
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise click.ClickException(f"cannot read {source}: {exc}") from exc
    else:
        try:
            data = Path(source).read_bytes()[:limit + 1]
        except OSError as exc:
            raise click.ClickException(f"cannot read {source}: {exc}") from exc
    if len(data) > limit:
        raise click.ClickException(f"{source} is too large")
    return data


def _keys(source: str) -> list[bytes]:
    """SPKIs from the published key listing (``GET /v1/procurement/statement-keys``)."""
    try:
        listing: Any = json.loads(_read(source, 1024 * 1024))
        entries = listing["keys"] if isinstance(listing, dict) else listing
        return [base64.b64decode(k["spki"], validate=True) for k in entries]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise click.ClickException(f"{source} is not a statement key listing") from exc


@click.group("statements")
def statements_group() -> None:
    """Signed credit statements (procurement queries, notice §12)."""


@statements_group.command("verify")
@click.argument("statement")
@click.option("--keys", "keys_source", required=True,
              help="file or URL of the statement keys (GET /v1/procurement/statement-keys)")
@click.option("--json", "as_json", is_flag=True, help="print the verified items as JSON")
def verify(statement: str, keys_source: str, as_json: bool) -> None:
    """Check STATEMENT (a file or URL) against the published statement keys; exit 1 when
    it does not verify."""
    text = _read(statement, statements.MAX_STATEMENT_BYTES)
    try:
        result = statements.verify(text, _keys(keys_source))
    except statements.StatementError as exc:
        click.echo(f"NOT VALID ({exc.code}): {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"issuer": result.issuer, "issued_at": result.issued_at,
                               "kid": result.kid.hex(), "items": result.items},
                              ensure_ascii=False))
        return
    click.echo(f"valid: signed by {result.issuer} (key {result.kid.hex()}) at "
               f"{result.issued_at}")
    for item in result.items:
        if not item.get("registered"):
            click.echo(f"  {item.get('credit_code')}: not registered")
            continue
        treatment = item.get("treatment") or {}
        click.echo(f"  {item.get('credit_code')} {item.get('name')}: grade "
                   f"{item.get('credit_grade')}, {treatment.get('summary')}")
