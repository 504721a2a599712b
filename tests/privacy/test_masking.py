"""Masking: the formats, text with several values, and log records from any logger (Dagster's too)."""

from __future__ import annotations

import logging

import dagster as dg
import pytest

from pipelines.privacy.masking import MaskingFilter, install_log_masking, mask_email, mask_phone, mask_text


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("jan.jansen@gmail.com", "j***@gmail.com"),
        (" Jan.Jansen@Gmail.com ", "J***@Gmail.com"),
        ("a@b.nl", "a***@b.nl"),
        ("not-an-address", "***"),
    ],
)
def test_mask_email(value, masked):
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+31612345678", "+31 6 ****5678"),
        ("+31 6 1234 5678", "+31 6 ****5678"),
        ("0031612345678", "+31 6 ****5678"),
        ("+46701234567", "+46 7 ****4567"),
        ("+3224567890", "+32 2 ****7890"),
        ("06-12345678", "06 ****5678"),
        ("1234", "****"),
    ],
)
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


def test_mask_text_masks_every_value_and_leaves_dates_ids_and_figures():
    text = (
        "row 12: Jan.Jansen@Gmail.com / 06-12345678 / +31 (0)6 1234 5678, again jan@x.nl; "
        "file klanten_20261123.csv at 2026-11-23 06:00:00, 0.9134 score, 1,500,000 rows, "
        "run a3f9e1b2-0612-3456-7890-abcdef012345"
    )
    masked = mask_text(text)
    assert "Jan.Jansen" not in masked and "12345678" not in masked and "jan@x.nl" not in masked
    assert "J***@Gmail.com" in masked and "06 ****5678" in masked and "+31 6 ****5678" in masked
    for kept in ("klanten_20261123.csv", "2026-11-23 06:00:00", "0.9134", "1,500,000", "a3f9e1b2-0612-3456-7890-abcdef012345"):
        assert kept in masked
    assert mask_text(masked) == masked  # masking is stable


def test_filter_masks_records_with_args():
    record = logging.LogRecord("crmclean", logging.INFO, __file__, 1, "sent to %s (%s)", ("jan@example.nl", "+31612345678"), None)
    assert MaskingFilter().filter(record)
    assert record.getMessage() == "sent to j***@example.nl (+31 6 ****5678)"


def test_installed_masking_covers_every_logger_including_dagster_context_log(caplog, tmp_path):
    install_log_masking()
    install_log_masking()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("pipelines.some.module").info("contact %s", "piet.pieters@example.nl")
        logging.getLogger("some.library").warning("call 0612345678 now")

    @dg.asset
    def chatty(context):
        context.log.info("matched jan.jansen@gmail.com and +31612345678")

    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path))
    result = dg.materialize([chatty], instance=instance)
    assert result.success
    messages = [r.getMessage() for r in caplog.records]
    assert "contact p***@example.nl" in messages and "call 06 ****5678 now" in messages
    logged = [e.user_message for e in instance.all_logs(result.run_id) if "matched" in (e.user_message or "")]
    assert logged and all("j***@gmail.com" in m and "+31 6 ****5678" in m for m in logged)
    assert not any("jan.jansen@gmail.com" in (e.user_message or "") for e in instance.all_logs(result.run_id))
