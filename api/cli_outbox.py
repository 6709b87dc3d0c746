"""``guardreg outbox list``: the text messages waiting for the SMS gateway.

In development, with no gateway configured (``GUARDREG_SMS_GATEWAY_URL``), the messages
(enrollment confirmation codes, registry/enroll_consent.py) stay in the outbox: this shows
them to the operator, who plays the gateway. In production the outbox is the gateway's
alone: the command refuses, since the messages hold codes that let a company hire.
"""

from __future__ import annotations

import json

import click

from api.runtime import open_runtime
from registry.settings import get_settings


@click.group("outbox")
def outbox_group() -> None:
    """Text messages waiting for the SMS gateway (development)."""


@outbox_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="also messages sent or given up on")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="as JSON lines")
def outbox_list(show_all: bool, limit: int, as_json: bool) -> None:
    """The newest pending messages: phone, text (with the code), queued at."""
    from api.cli_text import table
    from registry import enroll_consent_repository as repo

    settings = get_settings()
    if settings.mode == "production":
        raise click.ClickException("the outbox is read by the SMS gateway only in production "
                                   "mode (its messages hold confirmation codes)")
    rt = open_runtime(settings, upgrade=True)
    try:
        with rt.db.transaction(readonly=True) as cur:
            rows = repo.list_sms(cur, status=None if show_all else "pending", limit=limit)
    finally:
        rt.close()
    if settings.phone_owner_check_url:
        # Messages to typed phones wait for the phone-ownership check (api/sms.py).
        rows = [r for r in rows if r["owner"] is None]
    if not settings.sms_gateway_url:
        click.echo("no SMS gateway configured: deliver these by hand", err=True)
    if as_json:
        for r in rows:
            click.echo(json.dumps({"ref": r["ref"], "to": r["phone"], "text": r["text"],
                                   "status": r["status"],
                                   "created_at": r["created_at"].isoformat()},
                                  ensure_ascii=False))
        return
    click.echo(table(["queued", "status", "to", "text"],
                     [[r["created_at"].strftime("%Y-%m-%d %H:%M"), r["status"], r["phone"],
                       r["text"]] for r in rows], max_width=200))
