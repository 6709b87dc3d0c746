"""``guardreg retention report`` and ``guardreg retention run`` (docs/LIFECYCLE.md)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from api.runtime import open_runtime
from registry.settings import get_settings


@click.group("retention")
def retention_group() -> None:
    """Retention of personal data of people out of the industry."""


@retention_group.command("report")
@click.option("--json", "as_json", is_flag=True, help="the report as JSON")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000),
              help="how many recent decisions")
def retention_report(as_json: bool, limit: int) -> None:
    """What the job purges and keeps per table, the totals, and recent decisions."""
    from api.cli_text import table
    from api.usecases import retention

    settings = get_settings()
    rt = open_runtime(settings, upgrade=True)
    try:
        out = retention.report(rt.db, settings, limit=limit)
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(out, default=str, ensure_ascii=False, indent=2))
        return
    click.echo(f"retention period: {out['retention_years']} years out of the industry; "
               f"templates kept while barred by: {', '.join(out['keeping_bars'])}")
    click.echo(f"purged: {out['totals']['purged']}  kept for a bar: "
               f"{out['totals']['kept_for_bar']}")
    click.echo(table(["table", "purge", "while barred", "keeps", "why"],
                     [[r["table"], r["purge"], r["while_barred"], r["keeps"] or "-",
                       r["why_kept"] or "-"] for r in out["rules"]], max_width=48))

    def tables(d: dict[str, Any]) -> str:
        return ", ".join(f"{k}:{v}" for k, v in sorted(d.items())) or "-"

    if out["items"]:
        click.echo(table(["guard", "outcome", "out since", "bars", "decided", "purged rows"],
                         [[str(i["guard_id"]), i["outcome"], str(i["out_since"] or "-"),
                           ",".join(i["bars"]) or "-",
                           i["decided_at"].strftime("%Y-%m-%d %H:%M"), tables(i["purged"])]
                          for i in out["items"]], max_width=80))


@retention_group.command("run")
def retention_run() -> None:
    """Run the retention job now (unless another host is running it)."""
    from api.jobs import make_runner
    from registry import jobs as jobs_mod

    settings = get_settings()
    rt = open_runtime(settings, upgrade=True)
    try:
        runner = make_runner(rt)
        ran = runner.run_now("registry.retention")
        status = {j.name: j for j in jobs_mod.status(rt.db)}["registry.retention"]
    finally:
        rt.close()
    if not ran:
        click.echo("registry.retention: another host is running it")
        sys.exit(1)
    if status.last_status != "ok":
        click.echo(f"registry.retention failed: {status.last_error}", err=True)
        sys.exit(1)
    click.echo(json.dumps(status.last_result, default=str))
