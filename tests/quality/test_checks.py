"""Each seeded drop trips the check meant for it, and only blocking failures stop the exports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipelines.quality import checks
from tests.quality.drops import crm_rows, write_crm


def failed(con, file_id: str) -> dict[str, str]:
    """check -> severity of the failed checks of a load."""
    return {
        r.check_name: r.severity for r in checks.recorded(con, file_id).values() if not r.passed
    }


def with_thresholds(config, source: str, **quality):
    """A copy of the config whose `source` has other quality thresholds (as sources.yaml would
    set)."""
    src = config.sources[source]
    new = src.model_copy(update={"quality": src.quality.model_copy(update=quality)})
    return config.model_copy(update={"sources": {**config.sources, source: new}})


def test_a_healthy_second_drop_passes_everything(con, drop):
    drop("klanten_1.csv", crm_rows(300, seed=1))
    second = drop("klanten_2.csv", crm_rows(300, seed=2))
    results = checks.recorded(con, second)
    assert set(results) == set(checks.LOAD_CHECKS)
    assert failed(con, second) == {}
    assert checks.blocking_failures(con) == []


def test_header_only_file_fails_file_not_empty_and_blocks(con, drop):
    drop("klanten_1.csv", crm_rows(300))
    empty = drop("klanten_2.csv", [], header_only=True)
    assert failed(con, empty) == {"file_not_empty": "ERROR"}
    assert "header only" in checks.recorded(con, empty)["file_not_empty"].detail
    # Staging rejected it too; file_loads does not report the same failure a second time.
    assert checks.recorded(con, empty)["file_loads"].passed
    assert "already reported" in checks.recorded(con, empty)["file_loads"].detail
    blocking = checks.blocking_failures(con)
    assert len(blocking) == 1 and blocking[0].startswith("crm/klanten_2.csv: file_not_empty")


def test_zero_byte_file(con, drop, tmp_path, config):
    from tests.quality.drops import ingest_file

    drop("klanten_1.csv", crm_rows(300))
    path = tmp_path / "inbox" / "crm" / "klanten_2.csv"
    path.write_bytes(b"")
    file_id = ingest_file(con, config, "crm", path, tmp_path / "landing")
    assert failed(con, file_id) == {"file_not_empty": "ERROR"}  # one broken drop, one failed check
    assert "the file is empty" in checks.recorded(con, file_id)["file_not_empty"].detail
    status, error = con.execute(
        "SELECT status, error FROM ingest_log WHERE file_id = ?", [file_id]
    ).fetchone()
    assert status == "failed" and "empty" in error
    assert checks.blocking_failures(con)[0].startswith("crm/klanten_2.csv: file_not_empty")


def test_collapsed_row_count_blocks(con, drop, config):
    cfg = with_thresholds(config, "crm", min_rows_ratio=0.6)
    drop("klanten_1.csv", crm_rows(400, seed=1), cfg=cfg)
    half = drop("klanten_2.csv", crm_rows(400, seed=2)[:200], cfg=cfg)
    assert failed(con, half) == {"rows_vs_previous_load": "ERROR"}
    r = checks.recorded(con, half)["rows_vs_previous_load"]
    assert r.value == pytest.approx(0.5) and r.threshold == 0.6
    assert "200 rows read against 400" in r.detail
    # The next drop is compared with the last healthy one, not with the broken one.
    again = drop("klanten_3.csv", crm_rows(400, seed=3)[:210], cfg=cfg)
    assert "rows_vs_previous_load" in failed(con, again)
    assert (
        "against 400 (previous: klanten_1.csv)"
        in checks.recorded(con, again)["rows_vs_previous_load"].detail
    )
    # A full drop again: exports may run.
    assert checks.blocking_failures(con)
    drop("klanten_4.csv", crm_rows(400, seed=4), cfg=cfg)
    assert checks.blocking_failures(con) == []


def test_thirty_percent_bad_emails_blocks_fifteen_percent_warns(con, drop):
    drop("klanten_1.csv", crm_rows(400, seed=1))
    bad = drop("klanten_2.csv", crm_rows(400, seed=2, bad_email_share=0.30))
    assert failed(con, bad) == {"validity_vs_previous_load": "ERROR"}
    r = checks.recorded(con, bad)["validity_vs_previous_load"]
    assert "email 100.0% -> 70.0%" in r.detail and r.value == pytest.approx(30.0)
    # Completeness is not validity: the bad emails were provided, so the fill rate holds.
    fill = con.execute(
        "SELECT value FROM quality_metrics WHERE load_id = ? AND metric = 'fill_rate' "
        "AND field = 'email'",
        [bad],
    ).fetchone()[0]
    assert fill == 1.0
    assert checks.blocking_failures(con)[0].startswith(
        "crm/klanten_2.csv: validity_vs_previous_load"
    )

    mild = drop("klanten_3.csv", crm_rows(400, seed=3, bad_email_share=0.15))
    assert failed(con, mild) == {"validity_vs_previous_load": "WARN"}
    assert checks.blocking_failures(con) == []  # a warning does not stop exports


def test_dropped_required_column_blocks(con, drop):
    drop("klanten_1.csv", crm_rows(300))
    no_id = drop("klanten_2.csv", crm_rows(300, seed=2), drop_columns=("KlantID",))
    assert failed(con, no_id) == {"required_columns_present": "ERROR"}
    assert (
        "missing required column(s): KlantID (source_record_id)"
        in checks.recorded(con, no_id)["required_columns_present"].detail
    )
    assert (
        con.execute("SELECT status FROM ingest_log WHERE file_id = ?", [no_id]).fetchone()[0]
        == "failed"
    )
    assert "required_columns_present" in checks.blocking_failures(con)[0]


def test_dropped_optional_column_warns_fill_and_schema_drift(con, drop):
    drop("klanten_1.csv", crm_rows(300))
    no_phone = drop("klanten_2.csv", crm_rows(300, seed=2), drop_columns=("Telefoon",))
    assert failed(con, no_phone) == {"fill_rate_vs_previous_load": "WARN", "schema_drift": "WARN"}
    assert (
        "mapped column(s) missing: Telefoon"
        in checks.recorded(con, no_phone)["schema_drift"].detail
    )
    assert (
        "phone 100.0% -> 0.0%"
        in checks.recorded(con, no_phone)["fill_rate_vs_previous_load"].detail
    )
    assert checks.blocking_failures(con) == []


def test_renamed_column_is_reported_as_a_rename(con, drop, tmp_path, config):
    from tests.quality.drops import ingest_file

    drop("klanten_1.csv", crm_rows(300))
    path = write_crm(tmp_path / "inbox" / "crm" / "klanten_2.csv", crm_rows(300, seed=2))
    path.write_bytes(path.read_bytes().replace(b";Telefoon;", b";Tele-foon;", 1))
    file_id = ingest_file(con, config, "crm", path, tmp_path / "landing")
    detail = checks.recorded(con, file_id)["schema_drift"].detail
    assert "Telefoon -> Tele-foon" in detail and "new column(s): Tele-foon" in detail


def test_rejected_share_above_limit_blocks(con, drop, tmp_path, config):
    from tests.quality.drops import ingest_file

    drop("klanten_1.csv", crm_rows(300))
    path = write_crm(tmp_path / "inbox" / "crm" / "klanten_2.csv", crm_rows(300, seed=2))
    lines = path.read_bytes().split(b"\r\n")
    broken = [
        line + b";extra;fields" if 1 <= i <= 60 else line for i, line in enumerate(lines)
    ]  # 20% too many fields
    path.write_bytes(b"\r\n".join(broken))
    file_id = ingest_file(con, config, "crm", path, tmp_path / "landing")
    assert failed(con, file_id) == {"rejected_share": "ERROR"}
    r = checks.recorded(con, file_id)["rejected_share"]
    assert r.value == pytest.approx(0.2) and "60 of 300 rows rejected" in r.detail


def test_accepting_a_failed_drop_lets_exports_run(con, drop):
    drop("klanten_1.csv", crm_rows(400, seed=1))
    drop("klanten_2.csv", crm_rows(400, seed=2)[:100])
    assert checks.blocking_failures(con)
    assert checks.accept_load(con, "klanten_2.csv") == ["rows_vs_previous_load"]
    assert checks.blocking_failures(con) == []
    # the accepted load is now a valid baseline: a drop of the same size passes
    third = drop("klanten_3.csv", crm_rows(400, seed=3)[:100])
    assert failed(con, third) == {}
    with pytest.raises(LookupError):
        checks.accept_load(con, "no_such_file.csv")


def test_duplicate_file_is_not_a_load(con, drop, tmp_path, config):
    from tests.quality.drops import ingest_file

    first = drop("klanten_1.csv", crm_rows(300))
    copy = tmp_path / "inbox" / "crm" / "klanten_copy.csv"
    copy.write_bytes((tmp_path / "inbox" / "crm" / "klanten_1.csv").read_bytes())
    dup = ingest_file(con, config, "crm", copy, tmp_path / "landing")
    assert (
        con.execute("SELECT status FROM ingest_log WHERE file_id = ?", [dup]).fetchone()[0]
        == "duplicate"
    )
    assert failed(con, dup) == {}
    assert first != dup and checks.blocking_failures(con) == []


def test_drop_on_time_per_source(con, drop, config):
    from pipelines.quality.metrics import db_now

    drop("klanten_1.csv", crm_rows(50))
    now = db_now(con)
    results = {
        r.source: r for r in checks.evaluate_freshness(con, config, now + timedelta(hours=30))
    }
    assert not results["crm"].passed and results["crm"].severity == "WARN"
    assert results["crm"].value == pytest.approx(30, abs=0.1) and results["crm"].threshold == 26
    assert not results["webshop"].passed and "no drop yet" in results["webshop"].detail
    assert results["privacy_requests"].passed  # erasure requests have no rhythm unless configured
    on_time = {
        r.source: r for r in checks.evaluate_freshness(con, config, now + timedelta(hours=2))
    }
    assert on_time["crm"].passed and on_time["webshop"].passed


def test_same_outcome_keeps_alert_mark_and_a_new_failure_alerts_again(con, drop, config):
    from pipelines.quality.metrics import db_now

    drop("klanten_1.csv", crm_rows(50))
    late = db_now(con) + timedelta(hours=30)
    checks.record(con, checks.evaluate_freshness(con, config, late))
    con.execute(
        "UPDATE quality_checks SET alerted_at = now() WHERE check_name = 'drop_on_time' "
        "AND NOT passed"
    )
    checks.record(con, checks.evaluate_freshness(con, config, late + timedelta(hours=1)))
    assert (
        con.execute(
            "SELECT count(*) FROM quality_checks WHERE load_id = 'source:crm' AND NOT passed "
            "AND alerted_at IS NOT NULL"
        ).fetchone()[0]
        == 1
    )
    checks.record(con, checks.evaluate_freshness(con, config, db_now(con)))  # on time again
    checks.record(
        con, checks.evaluate_freshness(con, config, late + timedelta(hours=2))
    )  # late again
    assert (
        con.execute(
            "SELECT alerted_at FROM quality_checks WHERE load_id = 'source:crm'"
        ).fetchone()[0]
        is None
    )


def test_evaluate_all_catches_up_on_unchecked_failed_drops(con, config, tmp_path):
    """A drop whose run died before any check ran is still judged (and blocks) by the quality
    step."""
    from pipelines.ingest.discover import partition_key
    from pipelines.ingest.errors import FileRejected
    from pipelines.ingest.land import file_id_for, land
    from pipelines.ingest.load import stage_drop
    from pipelines.transport.local import LocalTransport

    path = write_crm(tmp_path / "inbox" / "crm" / "klanten_1.csv", [], header_only=True)
    transport = LocalTransport(path.parent)
    remote = transport.list(["*.csv"])[0]
    key = partition_key("crm", remote)
    land(
        con,
        transport,
        landing_root=tmp_path / "landing",
        source="crm",
        remote=remote,
        partition_key=key,
    )
    with pytest.raises(FileRejected):
        stage_drop(
            con,
            file_id=file_id_for(key),
            source_name="crm",
            source=config.sources["crm"],
            tmp_root=tmp_path / "tmp",
        )
    # not checked yet: blocking_failures still stops exports, from ingest_log alone
    assert checks.blocking_failures(con) == [
        "crm/klanten_1.csv: file_loads: crm/klanten_1.csv: the file has a header but no data rows"
    ]
    assert checks.unchecked_loads(con) == [file_id_for(key)]
    results = checks.evaluate_all(con, config)
    assert {r.check_name for r in results if not r.passed and r.load_id == file_id_for(key)} == {
        "file_not_empty"
    }
    assert checks.unchecked_loads(con) == []
    assert checks.blocking_failures(con)[0].startswith("crm/klanten_1.csv: file_not_empty")


def test_header_only_suppressions_file_is_a_warning_not_a_block(con, config, tmp_path):
    """No unsubscribes today is normal for the email platform: staging rejects the file, but
    exports go on."""
    from tests.quality.drops import ingest_file

    path = tmp_path / "inbox" / "email_platform" / "suppressions_20261123.csv"
    path.parent.mkdir(parents=True)
    path.write_text("Email Address,Phone,Event,Timestamp,Campaign\n", encoding="utf-8")
    file_id = ingest_file(con, config, "email_platform", path, tmp_path / "landing")
    assert (
        con.execute("SELECT status FROM ingest_log WHERE file_id = ?", [file_id]).fetchone()[0]
        == "failed"
    )
    assert failed(con, file_id) == {"file_not_empty": "WARN"}
    assert checks.blocking_failures(con) == []
