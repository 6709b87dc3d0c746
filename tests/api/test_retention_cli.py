"""``guardreg retention report`` and ``guardreg retention run`` on the real stack."""

from __future__ import annotations

import json

from click.testing import CliRunner

from api.cli import main
from api.retention_repository import RULES


def test_retention_cli_runs_the_job_and_reports_every_rule(cli_env: None) -> None:
    # Everyone in the shared test database was created today: nobody is past the period.
    ran = CliRunner().invoke(main, ["retention", "run"])
    assert ran.exit_code == 0, ran.output
    result = json.loads(ran.output.strip().splitlines()[-1])
    assert result["purged"] == 0 and result["kept-for-bar"] == 0 and "cutoff" in result
    as_json = CliRunner().invoke(main, ["retention", "report", "--json"])
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    assert report["retention_years"] == 3
    assert [r["table"] for r in report["rules"]] == [r.table for r in RULES]
    finger = next(r for r in report["rules"] if r["table"] == "biometrics_finger")
    assert (finger["purge"], finger["while_barred"]) == ("delete", "keep")
    assert "new ID number" in finger["why_kept"]
    table = CliRunner().invoke(main, ["retention", "report"])
    assert table.exit_code == 0 and "biometrics_face" in table.output
    assert "retention period: 3 years" in table.output
