"""The ``guardreg`` command line."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from api.runtime import open_runtime
from registry.auth import Role
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
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate (chain) to serve HTTPS; needs --tls-key")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False),
              help="PEM private key of --tls-cert")
def serve(host: str, port: int, workers: int, tls_cert: str | None,
          tls_key: str | None) -> None:
    """Upgrade the schema and serve the API (embedded PostgreSQL unless DATABASE_URL).

    Without GUARDREG_PUBLIC_BASE_URL, the URL written into certificates, status lists
    and pages is the one actually served (http://HOST:PORT; on 0.0.0.0 the machine's
    name, with a warning). The URL and the trust-list anchors are recorded for this user
    so that `guardreg sync` and `guardreg verify` find the service from any directory.

    Serve HTTPS with --tls-cert/--tls-key (or behind a TLS reverse proxy, see
    docs/OPERATIONS.md): the guard page's device keys, the camera and Secure session
    cookies need a secure context, which plain http on an intranet address is not."""
    import base64
    import os

    import uvicorn

    from api.cert_context import make_context
    from api.cli_config import record_server, served_url
    from registry.settings import reset_settings_cache

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    settings = get_settings()
    if not settings.public_base_url:
        url, warning = served_url(host, port, tls=bool(tls_cert))
        if warning:
            click.echo(f"warning: {warning}", err=True)
        # Workers (and this process's app) read the settings from the environment.
        os.environ["GUARDREG_PUBLIC_BASE_URL"] = url
        reset_settings_cache()
        settings = get_settings()
    rt = open_runtime(settings, upgrade=True)  # keeps the embedded server up while serving
    # Create missing development keys here, once, before workers start: several workers
    # racing on an empty key directory would each make a different "active" key.
    context = make_context(settings)
    try:
        if rt.embedded is not None and not settings.database_url:
            # Workers attach to the server this process started.
            os.environ["DATABASE_URL"] = rt.db.dsn
        anchors = [base64.b64encode(k.spki).decode()
                   for k in context.keyring.list_keys("trust-list")]
        record_server(settings.base_url, anchors=anchors, data_dir=settings.data_dir)
        scheme = "https" if tls_cert else "http"
        click.echo(f"guardreg serving on {scheme}://{host}:{port} as {settings.base_url} "
                   "(API docs at /docs)", err=True)
        uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", access_log=False, ssl_certfile=tls_cert,
                    ssl_keyfile=tls_key)
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
              type=click.Choice([r.value for r in Role]))
@click.option("--name", default="bootstrap", show_default=True)
@click.option("--company", "company_id", type=int, default=None)
@click.option("--guard", "guard_ref", default=None,
              help="the guard's public id (as the API and the pages show it)")
def apikey_create(role: str, name: str, company_id: int | None, guard_ref: str | None) -> None:
    """Create a principal and print its API key (shown once)."""
    from api.access import guard_id_in
    from registry import audit, auth
    from registry.errors import GuardregError

    settings = get_settings()
    rt = open_runtime(settings, upgrade=True)
    try:
        with rt.db.transaction() as cur:
            guard_id = guard_id_in(cur, guard_ref) if guard_ref else None
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


@apikey.command("list")
@click.option("--all", "show_all", is_flag=True, help="include revoked keys")
@click.option("--json", "as_json", is_flag=True)
def apikey_list(show_all: bool, as_json: bool) -> None:
    """List API keys (principals): id, role, name, binding, key prefix, dates."""
    from api.access import publicise_guards
    from api.cli_text import table
    from registry import repository

    rt = open_runtime(get_settings())
    try:
        with rt.db.transaction(readonly=True) as cur:
            rows = publicise_guards(cur, [r for r in repository.list_principals(cur)
                                          if show_all or r["revoked_at"] is None])
    finally:
        rt.close()
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    body = [[str(r["id"]), r["role"], r["name"],
             f"company {r['company_id']}" if r["company_id"] else
             (f"guard {r['guard_id']}" if r["guard_id"] else "-"),
             r["key_prefix"], r["created_at"].strftime("%Y-%m-%d %H:%M"),
             r["revoked_at"].strftime("%Y-%m-%d %H:%M") if r["revoked_at"] else "-"]
            for r in rows]
    click.echo(table(["id", "role", "name", "bound to", "prefix", "created", "revoked"], body,
                     right=[True] + [False] * 6))


@apikey.command("revoke")
@click.argument("principal_id", type=int)
def apikey_revoke(principal_id: int) -> None:
    """Revoke an API key by its id (see `apikey list`); audited."""
    from registry import audit, repository

    rt = open_runtime(get_settings())
    try:
        with rt.db.transaction() as cur:
            if not repository.revoke_principal(cur, principal_id):
                raise click.ClickException(f"no active key with id {principal_id}")
            audit.record(cur, actor=audit.Actor("cli"), action="apikey.revoke",
                         target_type="principal", target_id=principal_id)
    finally:
        rt.close()
    click.echo(f"revoked key {principal_id}")


@main.group()
def account() -> None:
    """Accounts for people (sign-in with password; regulators also with TOTP)."""


def _print_credentials(created: Any, *, qr: bool) -> None:
    click.echo(f"account {created.account.id}: {created.account.username} "
               f"({created.account.role.value})")
    click.echo(f"one-time password (change it at the first sign-in): {created.password}")
    if created.totp_uri:
        click.echo(f"authenticator app (TOTP): {created.totp_uri}")
        if qr:
            import io

            import qrcode

            code = qrcode.QRCode(border=1)
            code.add_data(created.totp_uri)
            out = io.StringIO()
            code.print_ascii(out=out, invert=True)
            click.echo(out.getvalue())
        click.echo("recovery codes (each works once; keep them offline):")
        for c in created.recovery_codes:
            click.echo(f"  {c}")


@account.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True,
              type=click.Choice([r.value for r in Role if r is not Role.GUARD]))
@click.option("--company", "company_id", type=int, default=None,
              help="the company of a company_operator account")
@click.option("--qr", is_flag=True, help="also print the TOTP set-up as a QR code")
def account_create(username: str, role: str, company_id: int | None, qr: bool) -> None:
    """Create an account and print its one-time password (and TOTP set-up), shown once."""
    import datetime as dt

    from api.sessions import account_keys
    from registry import accounts
    from registry import audit as audit_mod
    from registry.auth import Role
    from registry.errors import GuardregError

    settings = get_settings()
    rt = open_runtime(settings, upgrade=True)
    try:
        with rt.db.transaction() as cur:
            created = accounts.create_account(
                cur, actor=audit_mod.Actor("cli"), now=dt.datetime.now(dt.UTC),
                keys=account_keys(settings), username=username, role=Role(role),
                company_id=company_id, issuer=settings.issuer)
    except GuardregError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        rt.close()
    _print_credentials(created, qr=qr)


@account.command("reset")
@click.argument("username")
@click.option("--qr", is_flag=True, help="also print the new TOTP set-up as a QR code")
def account_reset(username: str, qr: bool) -> None:
    """New one-time password (and TOTP for a regulator), lock lifted, sessions ended."""
    import datetime as dt

    from api.sessions import account_keys
    from registry import accounts, accounts_repository
    from registry import audit as audit_mod
    from registry.auth import Principal, Role
    from registry.errors import GuardregError

    settings = get_settings()
    rt = open_runtime(settings)
    try:
        with rt.db.transaction() as cur:
            row = accounts_repository.get_account_by_username(
                cur, accounts.normalise_username(username))
            if row is None:
                raise click.ClickException(f"no account {username}")
            done = accounts.reset(
                cur, actor=audit_mod.Actor("cli"), manager=Principal(0, "cli", Role.REGULATOR),
                now=dt.datetime.now(dt.UTC), keys=account_keys(settings),
                account_id=int(row["id"]), issuer=settings.issuer)
    except GuardregError as exc:
        raise click.ClickException(exc.detail) from exc
    finally:
        rt.close()
    _print_credentials(done, qr=qr)


@account.command("list")
def account_list() -> None:
    """Accounts with their role, company or guard, and state."""
    import datetime as dt

    from api.cli_text import table
    from registry import accounts, repository

    rt = open_runtime(get_settings())
    try:
        with rt.db.transaction(readonly=True) as cur:
            rows = accounts.list_accounts(cur, now=dt.datetime.now(dt.UTC))
            guards = repository.public_ids_of(cur, [a.guard_id for a in rows if a.guard_id])
    finally:
        rt.close()
    body = [[str(a.id), a.username, a.role.value,
             f"company {a.company_id}" if a.company_id else
             (f"guard {guards.get(a.guard_id)}" if a.guard_id else "-"),
             "yes" if a.second_factor else "no",
             "disabled" if a.disabled else ("locked" if a.locked else
                                            ("must change password" if a.must_change_password
                                             else "active"))] for a in rows]
    click.echo(table(["id", "username", "role", "bound to", "2FA", "state"], body,
                     right=[True] + [False] * 5))


@main.group()
def jobs() -> None:
    """Scheduled jobs (run once per cluster on a database lease)."""


@jobs.command("list")
def jobs_list() -> None:
    """Each job: interval, runs, last status, next run, and the host running it now."""
    from api.cli_text import table
    from api.jobs import make_runner
    from registry import jobs as jobs_mod

    rt = open_runtime(get_settings(), upgrade=True)
    try:
        make_runner(rt).register()
        rows = jobs_mod.status(rt.db)
    finally:
        rt.close()

    def when(value: Any) -> str:
        return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"

    click.echo(table(["job", "every", "runs", "last", "finished", "next", "running on"],
                     [[j.name, f"{j.interval_s}s", str(j.runs), j.last_status or "-",
                       when(j.last_finished_at), when(j.next_run_at), j.running_on or "-"]
                      for j in rows], max_width=40))


@jobs.command("run")
@click.argument("name")
def jobs_run(name: str) -> None:
    """Run one job now (unless another host is running it)."""
    from api.cert_context import make_context
    from api.jobs import make_runner

    settings = get_settings()
    rt = open_runtime(settings, upgrade=True)
    try:
        rt.certs = make_context(settings)
        runner = make_runner(rt)
        if name not in runner.jobs:
            raise click.ClickException(f"no job {name}; see `guardreg jobs list`")
        ran = runner.run_now(name)
    finally:
        rt.close()
    click.echo(f"{name}: ran" if ran else f"{name}: another host is running it")
    sys.exit(0 if ran else 1)


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
    from api.cli_inspections import inspections
    from api.cli_outbox import outbox_group
    from api.cli_reports import enroll_batch, report
    from api.cli_retention import retention_group
    from api.cli_statements import statements_group

    for command in (keys, sync, verify, cose, eval_group, report, enroll_batch, biometrics,
                    inspections, statements_group, retention_group, outbox_group):
        main.add_command(command)
    audit.add_command(witness)
    audit.add_command(checkpoint)


_register_subcommands()


if __name__ == "__main__":  # pragma: no cover
    main()
