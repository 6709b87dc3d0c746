"""``guardreg inspections``: a party's secret, and anyone's check of a published draw."""

from __future__ import annotations

import json
import secrets
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from registry import draw


@click.group()
def inspections() -> None:
    """"Double random" inspection draws (notice §2)."""


@inspections.command("secret")
@click.argument("plan_hash")
def secret(plan_hash: str) -> None:
    """Make a party's secret and its commitment for a published plan (PLAN_HASH, hex).

    Send the commitment now; keep the secret offline and send it only when every party
    has committed."""
    try:
        digest = bytes.fromhex(plan_hash)
    except ValueError as exc:
        raise click.UsageError("PLAN_HASH is the plan's hex SHA-256") from exc
    if len(digest) != 32:
        raise click.UsageError("PLAN_HASH is 64 hex digits")
    value = secrets.token_bytes(draw.SECRET_BYTES)
    click.echo(json.dumps({"secret": value.hex(),
                           "commitment": draw.commitment(digest, value).hex()}))


def _load(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(source, timeout=15) as resp:  # noqa: S310 (checked)
                data: Any = json.loads(resp.read(16 * 1024 * 1024))
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise click.ClickException(f"cannot read {source}: {exc}") from exc
    else:
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot read {source}: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException("not a published plan")
    return data


@inspections.command("verify-draw")
@click.argument("source")
@click.option("--json", "as_json", is_flag=True)
def verify_draw(source: str, as_json: bool) -> None:
    """Recompute a published draw from its inputs (SOURCE: the plan's public URL
    /v1/public/inspection-plans/ID, or a saved copy) and compare it bit for bit.

    Exit 0 when the plan hash, every reveal against its commitment, the seed and the
    drawn targets and inspectors all agree; 1 otherwise, saying what differs."""
    published = _load(source)
    problems: list[str] = []
    try:
        canonical = str(published["plan_canonical"]).encode()
        plan = draw.Plan.from_json(json.loads(canonical))
        if plan.canonical() != canonical:
            problems.append("the published plan is not in canonical form")
        if plan.hash().hex() != published.get("plan_hash"):
            problems.append("plan_hash is not the hash of the published plan")
        reveals: dict[str, bytes] = {}
        for party in published.get("parties", []):
            if not party.get("secret"):
                problems.append(f"{party.get('party')} has not revealed")
                continue
            secret_bytes = bytes.fromhex(party["secret"])
            try:
                draw.check_reveal(plan.hash(), secret_bytes, bytes.fromhex(party["commitment"]))
            except draw.DrawError:
                problems.append(f"{party['party']}: the secret does not match its commitment")
            reveals[party["party"]] = secret_bytes
        if not problems:
            made = draw.draw(plan, reveals)
            if made.seed.hex() != published.get("seed"):
                problems.append("the seed differs from the one recomputed")
            if made.to_json() != published.get("draw"):
                problems.append("the drawn targets or inspectors differ from the recomputed draw")
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(f"malformed publication: {exc}")
    result = {"verified": not problems, "problems": problems,
              "plan_hash": published.get("plan_hash")}
    if as_json:
        click.echo(json.dumps(result))
    elif problems:
        click.echo("draw NOT verified:\n  " + "\n  ".join(problems))
    else:
        click.echo(f"draw verified: plan {published.get('plan_hash')}, seed {published['seed']}")
    sys.exit(0 if not problems else 1)
