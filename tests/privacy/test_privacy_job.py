"""The whole daily job on demo data with an email-platform drop and an erasure-request drop:
suppressed people never reach an export, an erased person leaves no trace and stays out after
the next day's drops bring them back, and no log line or Dagster event holds a full email address
or phone number of anyone."""

from __future__ import annotations

import csv
import gzip
import io
import logging
import re
import zipfile
from datetime import date
from email import policy
from email.parser import BytesParser
from pathlib import Path

import dagster as dg
import phonenumbers
from dagster._serdes import serialize_value

from assets.cli import main
from pipelines.warehouse import connect

DAY = date(2026, 11, 23)
NEXT_DAY = date(2026, 11, 24)
PEOPLE = "1500"


# --- reading what the job wrote ----------------------------------------------------------------


def demo_rows(project) -> list[dict]:
    """Every data row of the demo drops in the inbox, as dicts (the files' own headers)."""
    rows = []
    for source, encoding, delimiter in (("crm", "cp1252", ";"), ("webshop", "utf-8-sig", ",")):
        for path in sorted((project.inbox / source).glob("*.csv")):
            with open(path, encoding=encoding, newline="") as fh:
                rows += [dict(r, _source=source) for r in csv.DictReader(fh, delimiter=delimiter)]
    return rows


def exported_texts(outbox: Path) -> dict[str, str]:
    """Every exported CSV in the outbox as text, attachments of `.eml` copies and zips included."""
    out: dict[str, str] = {}

    def add(name: str, data: bytes) -> None:
        if name.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for member in zf.namelist():
                    add(f"{name}/{member}", zf.read(member))
        elif name.endswith(".gz"):
            add(name[:-3], gzip.decompress(data))
        elif name.endswith((".csv", ".txt")):
            out[name] = data.decode("utf-8-sig", "replace")

    for path in outbox.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".eml":
            msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
            for part in msg.iter_attachments():
                add(f"{path.name}/{part.get_filename()}", part.get_payload(decode=True))
        else:
            add(str(path.relative_to(outbox)), path.read_bytes())
    return out


def nsn(e164: str) -> str:
    return phonenumbers.national_significant_number(phonenumbers.parse(e164, None))


def email_leaks(text: str, emails: set[str]) -> list[str]:
    """The addresses of `emails` that occur verbatim in `text` (any case), found around each `@`
    without the masking's own pattern: a mistyped address the pattern misses still counts."""
    low = text.lower()
    by_domain: dict[str, set[str]] = {}
    for e in emails:
        local, _, domain = e.rpartition("@")
        if local and domain:
            by_domain.setdefault(domain, set()).add(local)
    domain_lengths = sorted({len(d) for d in by_domain})
    local_lengths = {d: sorted({len(x) for x in v}) for d, v in by_domain.items()}
    found = set()
    at = low.find("@")
    while at >= 0:
        for n in domain_lengths:
            domain = low[at + 1 : at + 1 + n]
            for m in local_lengths.get(domain, ()):
                if m <= at and low[at - m : at] in by_domain[domain]:
                    found.add(low[at - m : at] + "@" + domain)
        at = low.find("@", at + 1)
    return sorted(found)


def leaks(text: str, emails: set[str], phones: set[str]) -> list[str]:
    """Full email addresses or phone numbers of the demo people found in `text` (masked forms are
    fine)."""
    found = email_leaks(text, emails)
    for candidate in re.findall(r"\+?\d[\d \-./()]{6,}\d", text):
        digits = re.sub(r"\D", "", candidate)
        if any(digits.endswith(p) and len(digits) - len(p) <= 4 for p in phones if len(p) >= 8):
            found.append("phone ..." + digits[-2:])
    return found


def event_log_text(instance: dg.DagsterInstance) -> str:
    parts = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id):
            parts.append(serialize_value(entry))
    return "\n".join(parts)


# --- the test ----------------------------------------------------------------------------------


def test_suppressed_and_erased_people_never_reach_an_export_and_logs_stay_masked(
    project, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    assert main(["demo-data", "--people", PEOPLE, "--seed", "7", "--date", DAY.isoformat()]) == 0
    rows = demo_rows(project)
    email_col = {"crm": "Email", "webshop": "email"}
    opted = [
        r
        for r in rows
        if r["_source"] == "webshop"
        and r["newsletter"] == "true"
        and r["double_opt_in"] == "true"
        and "@" in r[email_col["webshop"]]
    ]
    picked = opted[:24]
    unsub, complaint, hard, soft3, soft2 = (
        picked[0:6],
        picked[6:10],
        picked[10:14],
        picked[14:18],
        picked[18:24],
    )
    lines = ["Email Address,Phone,Event,Timestamp,Campaign"]
    for r in unsub:  # written as the platform has it: other case, stray spaces
        lines.append(f" {r['email'].upper()} ,,Unsubscribed,2026-11-23 05:00:00,winter")
    lines += [f"{r['email']},,Spam Complaint,2026-11-23 05:00:00,winter" for r in complaint]
    lines += [f"{r['email']},,Hard Bounce,2026-11-23 05:00:00,winter" for r in hard]
    for r in soft3:
        lines += [f"{r['email']},,Soft Bounce,2026-11-{d} 05:00:00,winter" for d in (2, 12, 22)]
    for r in soft2:
        lines += [f"{r['email']},,Soft Bounce,2026-11-{d} 05:00:00,winter" for d in (12, 22)]
    platform = project.inbox / "email_platform"
    platform.mkdir(parents=True)
    (platform / "suppressions_20261123.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    assert main(["run"]) == 0
    con = connect(project.warehouse, read_only=True)
    key = lambda e: e.strip().lower()  # noqa: E731
    suppressed = {key(r["email"]) for r in unsub + complaint + hard + soft3}
    reasons = dict(
        con.execute(
            """SELECT email, string_agg(DISTINCT reason, ',' ORDER BY reason) FROM suppressions
           WHERE email IS NOT NULL GROUP BY email"""
        ).fetchall()
    )
    for r, want in (
        [(r, "unsubscribe") for r in unsub]
        + [(r, "complaint") for r in complaint]
        + [(r, "hard_bounce") for r in hard]
        + [(r, "soft_bounce") for r in soft3]
    ):
        assert want in reasons.get(key(r["email"]), ""), (want, r["customer_id"])
    assert not any("soft_bounce" in reasons.get(key(r["email"]), "") for r in soft2)
    # They would be exported otherwise: most have consent and a valid address in a golden record.
    eligible = con.execute(
        f"""SELECT count(*) FROM customers c JOIN consent k USING (customer_id)
            WHERE k.newsletter_opt_in AND c.email_status IN ('valid', 'corrected')
              AND c.email IN ({", ".join("?" * len(suppressed))})""",
        sorted(suppressed),
    ).fetchone()[0]
    assert eligible >= len(suppressed) // 2
    texts = exported_texts(project.outbox)
    assert texts and any(t.count("\n") > 10 for t in texts.values())
    for name, text in texts.items():
        low = text.lower()
        assert not [e for e in suppressed if e in low], name
    # Every exported customer has consent (the no-consent guarantee, seen from the outside).
    exported_ids = {
        m for t in texts.values() for m in re.findall(r"^([^,;\r\n]+)[,;]", t, re.M)
    } - {"customer_id"}
    no_consent = {
        c
        for (c,) in con.execute(
            "SELECT customer_id FROM suppressions WHERE reason = 'no_consent'"
        ).fetchall()
    }
    assert exported_ids and not exported_ids & no_consent

    # --- erasure: a person with an address of their own, requested through a drop --------------
    person = con.execute(
        """SELECT c.customer_id, c.email, c.phone FROM customers c
           WHERE c.email IS NOT NULL AND c.phone IS NOT NULL AND c.source_count = 2
             AND (SELECT count(*) FROM customers o
                  WHERE o.email = c.email OR o.phone = c.phone) = 1
             AND (SELECT count(*) FROM contacts o WHERE (o.email = c.email OR o.phone = c.phone)
                  AND o.source_record_id NOT IN (SELECT source_record_id FROM customer_sources s
                                                 WHERE s.customer_id = c.customer_id)) = 0
             AND c.customer_id IN (SELECT customer_id FROM consent WHERE newsletter_opt_in)
           ORDER BY c.customer_id LIMIT 1"""
    ).fetchone()
    all_emails = {
        e
        for (e,) in con.execute(
            "SELECT DISTINCT lower(trim(email_raw)) FROM contacts WHERE email_raw IS NOT NULL"
        ).fetchall()
    }
    all_emails |= {
        e
        for (e,) in con.execute(
            "SELECT DISTINCT email FROM contacts WHERE email IS NOT NULL"
        ).fetchall()
    }
    all_phones = {
        nsn(p)
        for (p,) in con.execute(
            "SELECT DISTINCT phone FROM contacts WHERE phone IS NOT NULL"
        ).fetchall()
    }
    con.close()
    assert person, "no person with an address of their own in the demo data"
    customer_id, email, phone = person
    assert any(email in t.lower() for t in texts.values())  # exported before the request
    con = connect(project.warehouse, read_only=True)
    record_keys = [
        k
        for (k,) in con.execute(
            """SELECT m.record_key FROM match_records m
           JOIN customer_sources s USING (source, source_record_id)
           WHERE s.customer_id = ?""",
            [customer_id],
        ).fetchall()
    ]
    con.close()
    assert len(record_keys) == 2
    requests = project.inbox / "privacy_requests"
    requests.mkdir(parents=True)
    (requests / "erasure_20261123.csv").write_text(
        "RequestID,Email,Phone,CustomerID,RequestedAt\n"
        f"AVG-2026-0042,{email.upper()},,,2026-11-23 07:00:00\n",
        encoding="utf-8",
    )
    assert main(["run"]) == 0

    def traces() -> dict[str, int]:
        found: dict[str, int] = {}
        digits = nsn(phone)
        for path in project.data_dir.rglob("*"):
            if not path.is_file():
                continue
            data = path.read_bytes()
            texts_ = [data.decode("latin-1")]
            if path.suffix == ".gz":
                texts_.append(gzip.decompress(data).decode("latin-1"))
            for t in texts_:
                if email in t.lower() or digits in re.sub(r"[ \-./()]", "", t):
                    found[str(path.relative_to(project.data_dir))] = 1
        con = connect(project.warehouse, read_only=True)
        try:
            for (table,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall():
                cols = [
                    c
                    for (c,) in con.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema='main' AND table_name=?",
                        [table],
                    ).fetchall()
                ]
                text = " || ' ' || ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), '')" for c in cols)
                n = con.execute(
                    f"""SELECT count(*) FROM "{table}" WHERE contains(lower({text}), ?)
                        OR contains(regexp_replace({text}, '[ ./()-]', '', 'g'), ?)
                        OR contains({text}, ?)""",
                    [email, digits, customer_id],
                ).fetchone()[0]
                if n and table != "erasure_log":
                    found[f"table {table}"] = n
        finally:
            con.close()
        return found

    assert traces() == {}
    con = connect(project.warehouse, read_only=True)
    keys = ", ".join(map(str, record_keys))
    assert (
        con.execute(
            f"SELECT count(*) FROM match_edges WHERE left_key IN ({keys}) OR right_key IN ({keys})"
        ).fetchone()[0]
        == 0
    )
    con.close()
    con = connect(project.warehouse, read_only=True)
    audit = con.execute(
        "SELECT origin, request_id, customers, residue_files, compacted_at IS NOT NULL "
        "FROM erasure_log"
    ).fetchall()
    con.close()
    assert audit == [("source:privacy_requests", "AVG-2026-0042", 1, 0, True)]

    # --- the next day's drops bring the person back: suppressed, never exported -----------------
    assert (
        main(["demo-data", "--people", PEOPLE, "--seed", "7", "--date", NEXT_DAY.isoformat()]) == 0
    )
    back = [r for r in demo_rows(project) if key(r[email_col[r["_source"]]]) == email]
    assert back, "the person is in the next day's drops"
    assert main(["run"]) == 0
    con = connect(project.warehouse, read_only=True)
    returned = con.execute("SELECT customer_id FROM customers WHERE email = ?", [email]).fetchall()
    assert returned
    assert {
        r
        for (r,) in con.execute(
            "SELECT reason FROM suppressions WHERE customer_id = ?", [returned[0][0]]
        ).fetchall()
    } >= {"erasure"}
    con.close()
    for name, text in exported_texts(project.outbox).items():
        assert email not in text.lower(), name

    # --- no full email address or phone number in any log line or Dagster event ----------------
    raw_drop = (project.inbox / "crm" / "klanten_20261124.csv").read_text(encoding="cp1252")
    assert len(leaks(raw_drop, all_emails, all_phones)) > 100  # the detector finds unmasked values
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert leaks(out + err, all_emails, all_phones) == []
    assert leaks(logged, all_emails, all_phones) == []
    events = event_log_text(dg.DagsterInstance.get())
    assert "ASSET_MATERIALIZATION" in events
    assert leaks(events, all_emails, all_phones) == []

    # --- and every file and folder under data/ is readable by the owner only -------------------
    loose = [str(p) for p in project.data_dir.rglob("*") if p.stat().st_mode & 0o077]
    assert loose == []
