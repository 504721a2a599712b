"""The daily job (`crmclean run`, real Dagster runs, a real DuckDB file) on seeded broken drops.

Day 1 loads a healthy CRM drop and exports. Day 2 drops a broken file; each case must fail
exactly the check meant for it, stop every export, and send one alert mail (an .eml in the
outbox by default; through a real SMTP server for one case). One case continues to day 3: a
healthy drop lifts the block and the exports run again.
"""

from __future__ import annotations

import os
from email import policy
from email.parser import BytesParser

import dagster as dg
import pytest
import yaml

from assets.cli import main
from pipelines.ingest.discover import partition_key
from pipelines.ingest.land import file_id_for
from pipelines.transport.local import LocalTransport
from pipelines.warehouse import connect
from tests.quality.drops import crm_rows, write_crm

DAY1, DAY2, DAY3 = 1795334400, 1795420800, 1795507200  # mtimes of the drops, a day apart


def use_smtp(project, server) -> None:
    path = project.exports_file
    cfg = yaml.safe_load(path.read_text())
    cfg["smtp"] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username_env": None,
        "password_env": None,
        "sender": "crmclean@example.test",
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def limit_min_rows_ratio(project, ratio: float) -> None:
    path = project.sources_file
    cfg = yaml.safe_load(path.read_text())
    cfg["sources"]["crm"]["quality"] = {"min_rows_ratio": ratio}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


def alerts_in_outbox(project) -> list:
    out = []
    for path in sorted((project.outbox / "mail").glob("*.eml")):
        with open(path, "rb") as fh:
            message = BytesParser(policy=policy.default).parse(fh)
        if "ALERT" in message["Subject"]:
            out.append(message)
    return out


def exports(project) -> dict[str, int]:
    con = connect(project.warehouse, read_only=True)
    try:
        return dict(
            con.execute("SELECT status, count(*) FROM export_log GROUP BY status").fetchall()
        )
    finally:
        con.close()


def file_id_of(path) -> str:
    remote = next(f for f in LocalTransport(path.parent).list([path.name]))
    return file_id_for(partition_key("crm", remote))


CASES = {
    # case: (how to write day 2's file, the check that must fail, the asset it checks)
    "empty file": (
        lambda p: (p.write_bytes(b""), os.utime(p, (DAY2, DAY2))),
        "file_not_empty",
        "landed_file",
    ),
    "half the rows": (
        lambda p: write_crm(p, crm_rows(400, seed=2)[:200], mtime=DAY2),
        "rows_vs_previous_load",
        "contacts",
    ),
    "30% bad emails": (
        lambda p: write_crm(p, crm_rows(400, seed=2, bad_email_share=0.3), mtime=DAY2),
        "validity_vs_previous_load",
        "contacts",
    ),
    "dropped column": (
        lambda p: write_crm(p, crm_rows(400, seed=2), drop_columns=("KlantID",), mtime=DAY2),
        "required_columns_present",
        "landed_file",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_drop_fails_its_check_stops_exports_and_alerts(
    project, case, smtp_server, capsys
):
    write_day2, check, asset = CASES[case]
    server = None
    if case == "30% bad emails":
        server = smtp_server(security="none", login=False)
        use_smtp(project, server)
    limit_min_rows_ratio(
        project, 0.6
    )  # "half the rows" must be too few for crm (sources.yaml quality:)
    inbox = project.inbox / "crm"

    write_crm(inbox / "klanten_20261122.csv", crm_rows(400, seed=1), mtime=DAY1)
    assert main(["run"]) == 0
    day1 = exports(project)
    assert day1.get("ok", 0) > 0 and "refused" not in day1
    assert alerts_in_outbox(project) == []

    broken = inbox / "klanten_20261123.csv"
    write_day2(broken)
    assert main(["run"]) == 1
    out = capsys.readouterr().out
    assert [
        line
        for line in out.splitlines()
        if "FAILED" in line and "crm/klanten_20261123.csv" in line
    ], out

    # the right check failed, with severity ERROR, in the warehouse ...
    con = connect(project.warehouse, read_only=True)
    failed = dict(
        con.execute(
            "SELECT check_name, severity FROM quality_checks WHERE load_id = ? AND NOT passed",
            [file_id_of(broken)],
        ).fetchall()
    )
    con.close()
    assert failed.get(check) == "ERROR", failed
    assert set(failed) == {check}  # one broken drop, one failed check
    # ... and in Dagster, on the drop's partition
    instance = dg.DagsterInstance.get()
    record = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(asset), check), limit=1
    )[0]
    assert record.status.value == "FAILED" and record.partition.startswith(
        "crm/klanten_20261123.csv@"
    )

    # the exports did not run: nothing new was exported, every segment was refused
    day2 = exports(project)
    assert day2.get("ok", 0) == day1["ok"]
    assert day2.get("refused", 0) > 0
    con = connect(project.warehouse, read_only=True)
    reasons = {
        r
        for (r,) in con.execute(
            "SELECT DISTINCT error FROM export_log WHERE status = 'refused'"
        ).fetchall()
    }
    con.close()
    assert all("blocking quality check" in r and check in r for r in reasons), reasons

    # one alert, naming the file and the check
    if server is None:
        alerts = alerts_in_outbox(project)
    else:
        alerts = [m for m in server.messages if "ALERT" in m["Subject"]]
        assert alerts_in_outbox(project) == []
    assert len(alerts) == 1, [m["Subject"] for m in alerts]
    body = alerts[0].get_body(("plain",)).get_content()
    assert "crm/klanten_20261123.csv" in alerts[0]["Subject"]
    assert "Exports are STOPPED" in body and check in body
    assert [p.get_filename() for p in alerts[0].iter_attachments()][0].startswith("quality_")

    if case != "half the rows":
        return
    # Day 3: a healthy drop. The block lifts, exports run, and the old failure is not mailed again.
    write_crm(inbox / "klanten_20261124.csv", crm_rows(400, seed=3), mtime=DAY3)
    assert main(["run"]) == 0
    assert exports(project)["ok"] > day2["ok"]
    assert len(alerts_in_outbox(project)) == 1
    assert main(["quality"]) == 0
    assert "exports: not blocked" in capsys.readouterr().out


def test_quality_cli_prints_writes_the_report_and_accepts_a_drop(project, capsys):
    inbox = project.inbox / "crm"
    write_crm(inbox / "klanten_20261122.csv", crm_rows(300, seed=1), mtime=DAY1)
    assert main(["run"]) == 0
    # the daily export mail carries the day's HTML quality report
    export_mails = [m for m in _all_mails(project) if m["Subject"].startswith("crmclean: ")]
    assert export_mails
    for mail in export_mails:
        assert (
            "the full quality report is attached: quality_"
            in mail.get_body(("plain",)).get_content()
        )
        (report,) = [a for a in mail.iter_attachments() if a.get_filename().startswith("quality_")]
        assert report.get_content_type() == "text/html"
        html = report.get_content()
        assert "klanten_20261122.csv" in html and '<svg class="chart"' in html
    write_crm(
        inbox / "klanten_20261123.csv", crm_rows(300, seed=1)[:100], mtime=DAY2
    )  # a third of the rows
    assert main(["run"]) == 1
    capsys.readouterr()
    assert main(["quality", "--report"]) == 0
    out = capsys.readouterr().out
    assert "EXPORTS BLOCKED" in out and "rows_vs_previous_load" in out
    assert (
        "crm  latest drop klanten_20261123.csv" in out
        and "read 100, loaded 100, rejected 0" in out
    )
    report = out.strip().splitlines()[-1].removeprefix("report: ")
    assert report.endswith(".html") and os.path.exists(report)

    assert main(["quality", "--accept", "klanten_20261123.csv"]) == 0
    assert (
        "accepted 1 failed check(s) of klanten_20261123.csv: rows_vs_previous_load"
        in capsys.readouterr().out
    )
    assert main(["quality", "--accept", "nope.csv"]) == 2
    assert main(["run"]) == 0  # nothing new, and exports are no longer blocked
    assert exports(project)["ok"] > 0


def test_a_late_source_is_alerted_once_by_a_run_without_new_drops(project, capsys):
    cfg = yaml.safe_load(project.sources_file.read_text())
    cfg["sources"]["crm"]["quality"] = {"expected_every_hours": 0.0005}  # 1.8 seconds
    project.sources_file.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))
    write_crm(project.inbox / "crm" / "klanten_20261122.csv", crm_rows(200), mtime=DAY1)
    assert main(["run", "--no-exports"]) == 0
    import time

    time.sleep(2.5)
    assert main(["run", "--no-exports"]) == 0  # a warning does not fail the run
    assert "files: 0 new" in capsys.readouterr().out
    late = [
        m for m in _all_mails(project) if "drop_on_time" in m.get_body(("plain",)).get_content()
    ]
    assert len(late) == 1 and late[0]["Subject"].startswith("crmclean warning:")
    assert "source crm: drop_on_time" in late[0].get_body(("plain",)).get_content()
    assert main(["run", "--no-exports"]) == 0  # still late: no second mail
    assert (
        len(
            [
                m
                for m in _all_mails(project)
                if "drop_on_time" in m.get_body(("plain",)).get_content()
            ]
        )
        == 1
    )
    assert sorted(p.name for p in project.reports.glob("quality_*.html"))


def _all_mails(project) -> list:
    out = []
    for path in sorted((project.outbox / "mail").glob("*.eml")):
        with open(path, "rb") as fh:
            out.append(BytesParser(policy=policy.default).parse(fh))
    return out
