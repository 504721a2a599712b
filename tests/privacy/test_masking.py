"""Masking: the formats, text with several values, and log records from any logger (Dagster's
too)."""

from __future__ import annotations

import logging

import dagster as dg
import pytest
from dagster._serdes import serialize_value

from pipelines.privacy.masking import (
    MaskedError,
    MaskingFilter,
    install_log_masking,
    mask_email,
    mask_phone,
    mask_text,
    masked_errors,
)


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
    for kept in (
        "klanten_20261123.csv",
        "2026-11-23 06:00:00",
        "0.9134",
        "1,500,000",
        "a3f9e1b2-0612-3456-7890-abcdef012345",
    ):
        assert kept in masked
    assert mask_text(masked) == masked  # masking is stable


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "bounce of jan@gmail.c0m",
            "bounce of j***@gmail.c0m",
        ),  # a mistyped address is still theirs
        ("bounce of jan.jansen@gmail.com2", "bounce of j***@gmail.com2"),
        ("bounce of jan@gmail..com", "bounce of j***@gmail..com"),
        (
            "jan@123.nl and ivan@xn--80ak6aa92e.xn--p1ai",
            "j***@123.nl and i***@xn--80ak6aa92e.xn--p1ai",
        ),
        (
            "connected to crmclean@127.0.0.1:2222",
            "connected to crmclean@127.0.0.1:2222",
        ),  # a login, not a person
        ("sftp://crmclean@10.0.0.5/exports/crm", "sftp://crmclean@10.0.0.5/exports/crm"),
    ],
)
def test_mask_text_masks_mistyped_addresses_but_not_logins_at_an_ip(text, masked):
    assert mask_text(text) == masked
    assert mask_text(masked) == masked


def test_filter_masks_records_with_args():
    record = logging.LogRecord(
        "crmclean",
        logging.INFO,
        __file__,
        1,
        "sent to %s (%s)",
        ("jan@example.nl", "+31612345678"),
        None,
    )
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
    logged = [
        e.user_message
        for e in instance.all_logs(result.run_id)
        if "matched" in (e.user_message or "")
    ]
    assert logged and all("j***@gmail.com" in m and "+31 6 ****5678" in m for m in logged)
    assert not any(
        "jan.jansen@gmail.com" in (e.user_message or "") for e in instance.all_logs(result.run_id)
    )


def test_a_logged_traceback_is_masked(caplog):
    install_log_masking()
    with caplog.at_level(logging.ERROR):
        try:
            raise ValueError("no such customer: jan.jansen@gmail.com")
        except ValueError:
            logging.getLogger("pipelines.privacy").exception(
                "erasure failed for %s", "+31612345678"
            )
    text = caplog.text
    assert (
        "erasure failed for +31 6 ****5678" in text
        and "ValueError: no such customer: j***@gmail.com" in text
    )
    assert "jan.jansen@gmail.com" not in text and "+31612345678" not in text


def test_masked_errors_keep_addresses_out_of_dagsters_event_log(tmp_path):
    email, phone = (
        "jan.jansen" + "@gmail.com",
        "+316" + "12345678",
    )  # not in the stored source lines

    @dg.asset
    def failing():
        with masked_errors():
            try:
                int(email)
            except ValueError as e:
                raise RuntimeError(f"cannot load {phone}") from e

    instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path))
    result = dg.materialize([failing], instance=instance, raise_on_error=False)
    assert not result.success
    stored = "\n".join(serialize_value(e) for e in instance.all_logs(result.run_id))
    assert "MaskedError: RuntimeError: cannot load +31 6 ****5678 <- ValueError:" in stored
    assert "j***@gmail.com" in stored
    assert "jan.jansen@gmail.com" not in stored and "+31612345678" not in stored


def test_masked_errors_let_other_errors_through_unchanged():
    with pytest.raises(KeyError) as raised:
        with masked_errors():
            raise KeyError("customer_id")
    assert raised.type is KeyError
    with pytest.raises(MaskedError, match=r"^OSError: cannot read j\*\*\*@x\.nl\.csv$"):
        with masked_errors():
            raise OSError("cannot read jan@x.nl.csv")
