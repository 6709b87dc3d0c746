"""The ``guardreg`` command line."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from api.runtime import open_runtime
from registry.settings import get_settings


def _setup_logging(level: str = "INFO") -> None:
    import warnings

    warnings.filterwarnings("ignore", category=UserWarning)  # platformdirs, pkg_resources
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@click.group()
@click.option("--log-level", default="WARNING", show_default=True)
def main(log_level: str) -> None:
    """guardreg: the registry behind electronic security-guard certificates."""
    _setup_logging(log_level.upper())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Upgrade the schema and serve the API (embedded PostgreSQL unless DATABASE_URL)."""
    import os

    import uvicorn

    from api.cert_context import make_context

    settings = get_settings()
    rt = open_runtime(settings, upgrade=True)  # keeps the embedded server up while serving
    # Create missing development keys here, once, before workers start: several workers
    # racing on an empty key directory would each make a different "active" key.
    make_context(settings)
    try:
        if rt.embedded is not None and not settings.database_url:
            # Workers attach to the server this process started.
            os.environ["DATABASE_URL"] = rt.db.dsn
        click.echo(f"guardreg serving on http://{host}:{port} (API docs at /docs)", err=True)
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", access_log=False)
    finally:
        rt.close()


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations."""
    from api.runtime import MIGRATION_PACKAGES
    from registry import migrate

    rt = open_runtime(get_settings())
    try:
        applied = migrate.upgrade(rt.db, MIGRATION_PACKAGES)
        click.echo(f"applied {len(applied)} migration(s)"
                   + "".join(f"\n  {m.version:04d}_{m.name}" for m in applied))
    finally:
        rt.close()


@main.group()
def apikey() -> None:
    """API keys."""


@apikey.command("create")
@click.option("--role", required=True,
              type=click.Choice(["regulator", "company_operator", "checkpoint_officer", "guard"]))
@click.option("--name", default="bootstrap", show_default=True)
@click.option("--company", "company_id", type=int, default=None)
@click.option("--guard", "guard_id", type=int, default=None)
def apikey_create(role: str, name: str, company_id: int | None, guard_id: int | None) -> None:
    """Create a principal and print its API key (shown once)."""
    from registry import audit, auth
    from registry.errors import GuardregError

    settings = get_settings()
    rt = open_runtime(settings, upgrade=True)
    try:
        with rt.db.transaction() as cur:
            principal, key = auth.create_api_key(
                cur, pepper=settings.derive_key("apikey_pepper", "apikey-hmac"), name=name,
                role=auth.Role(role), company_id=company_id, guard_id=guard_id)
            audit.record(cur, actor=audit.Actor("cli"), action="apikey.create",
                         target_type="principal", target_id=principal.id, data={"role": role})
    except GuardregError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        rt.close()
    click.echo(key)


@main.group()
def audit() -> None:
    """Audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True)
@click.option("--witness", "witness_src", default=None, metavar="DIR_OR_URL",
              help="also check the events against the newest witnessed checkpoint (a witness"
              " directory, or a URL serving a checkpoint)")
@click.option("--key", "key_opt", default=None,
              help="with --witness URL: the log key (default: the local keyring's log keys)")
def audit_verify(as_json: bool, witness_src: str | None, key_opt: str | None) -> None:
    """Recompute the audit hash chain; exit 1 and name the event if it is broken."""
    import dataclasses

    from registry import audit as audit_mod

    if witness_src is not None:
        from api.cli_audit import verify_with_witness

        sys.exit(verify_with_witness(witness_src, key_opt, as_json))

    rt = open_runtime(get_settings())
    try:
        with rt.db.transaction(readonly=True) as cur:
            report = audit_mod.verify_chain(cur)
    finally:
        rt.close()
    data: dict[str, Any] = dataclasses.asdict(report)
    if as_json:
        click.echo(json.dumps(data))
    elif report.ok:
        click.echo(f"audit chain intact: {report.events} events")
    else:
        click.echo(f"audit chain BROKEN at event {report.first_bad_seq}: {report.problem}")
    sys.exit(0 if report.ok else 1)


def _register_subcommands() -> None:
    from api.cli_audit import checkpoint, witness
    from api.cli_biometrics import biometrics
    from api.cli_certificates import cose, keys, sync, verify
    from api.cli_eval import eval_group
    from api.cli_reports import enroll_batch, report

    for command in (keys, sync, verify, cose, eval_group, report, enroll_batch, biometrics):
        main.add_command(command)
    audit.add_command(witness)
    audit.add_command(checkpoint)


_register_subcommands()


if __name__ == "__main__":  # pragma: no cover
    main()
