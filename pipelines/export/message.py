"""The email that carries a segment export: counts, the latest quality summary, the files.

Attachments are the CSV files, or one zip archive holding them when together they are larger
than the destination's `zip_above_bytes`, and the latest HTML quality report when one is given.
The body never lists personal data, only figures.
"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import duckdb

from pipelines.config import EmailDestination, Segment
from pipelines.export.files import WrittenFile, zip_files

# Fields whose fill rate the summary shows, in this order.
SUMMARY_FIELDS = (
    "email",
    "phone",
    "birth_date",
    "postcode",
    "street",
    "city",
    "newsletter_opt_in",
    "last_purchase_at",
)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def quality_summary(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Plain-text lines: the latest warehouse snapshot and each source's latest validity."""
    snapshot = con.execute(
        """SELECT load_id, measured_at FROM quality_metrics
           WHERE source IS NULL AND metric = 'customers' ORDER BY measured_at DESC LIMIT 1"""
    ).fetchone()
    if snapshot is None:
        return ["No quality figures have been measured yet."]
    load_id, measured_at = snapshot
    figures = {
        (m, f): v
        for m, f, v in con.execute(
            "SELECT metric, field, value FROM quality_metrics WHERE load_id = ?", [load_id]
        ).fetchall()
    }
    lines = [f"Data quality (measured {measured_at:%Y-%m-%d %H:%M} UTC):"]
    customers, contacts = figures.get(("customers", None)), figures.get(("contacts", None))
    if customers is not None:
        lines.append(
            f"  customers {int(customers):,} from {int(contacts or 0):,} source records, "
            f"duplicate rate {_pct(figures.get(('duplicate_rate', None)))}"
        )
    fill = [
        f"{f} {_pct(figures[('customer_fill_rate', f)])}"
        for f in SUMMARY_FIELDS
        if ("customer_fill_rate", f) in figures
    ]
    if fill:
        lines.append("  filled: " + ", ".join(fill))
    valid = [
        f"{f} {_pct(v)}"
        for (m, f), v in sorted(figures.items(), key=lambda kv: str(kv[0][1]))
        if m == "customer_validity"
    ]
    if valid:
        lines.append("  valid: " + ", ".join(valid))
    per_source = con.execute(
        """WITH latest AS (
               SELECT source, arg_max(load_id, measured_at) AS load_id FROM quality_metrics
               WHERE source IS NOT NULL GROUP BY source)
           SELECT q.source, q.field, q.value
           FROM quality_metrics q JOIN latest USING (source, load_id)
           WHERE q.metric = 'validity' AND q.field IN ('email', 'phone', 'postcode')
           ORDER BY q.source, q.field"""
    ).fetchall()
    by_source: dict[str, list[str]] = {}
    for source, field, value in per_source:
        by_source.setdefault(source, []).append(f"{field} {_pct(value)}")
    for source, parts in by_source.items():
        lines.append(f"  valid in the latest {source} drop: " + ", ".join(parts))
    return lines


def export_body(
    name: str, segment: Segment, summary: dict, files: list[WrittenFile], quality: list[str]
) -> str:
    """The text of the mail: what the segment is, how big, what changed, which files."""
    lines = [f"Segment {name}: {segment.description}".rstrip(": "), ""]
    lines.append(f"Customers in the segment: {summary['rows']:,}")
    if summary.get("previous") is not None:
        lines.append(
            f"At the previous export: {summary['previous']:,} "
            f"(change {summary['rows'] - summary['previous']:+,})"
        )
    lines.append(
        f"Since the previous export: {summary['added']:,} added, "
        f"{summary['changed']:,} changed, {summary['removed']:,} removed"
    )
    excluded = summary.get("excluded", {})
    if excluded:
        lines.append(
            f"Left out whatever the filter says: {excluded.get('suppressed', 0):,} suppressed, "
            f"{excluded.get('without_opt_in', 0):,} without newsletter opt-in"
        )
    if excluded.get("deduplicated"):
        lines.append(
            f"Sent once per {'address' if segment.dedupe == 'household' else 'inbox'}: "
            f"{excluded['deduplicated']:,} customers left out who share it with a customer "
            "in the list"
        )
    lines.append(
        f"File format: {segment.format.mode} export"
        + (", one file per " + segment.split_by if segment.split_by else "")
    )
    lines += ["", "Files:"]
    lines += [f"  {f.name}: {f.rows:,} rows, sha256 {f.sha256}" for f in files]
    lines += ["", *quality, "", "Sent by crmclean."]
    return "\n".join(lines) + "\n"


def export_message(
    dest: EmailDestination,
    name: str,
    segment: Segment,
    summary: dict,
    files: list[WrittenFile],
    quality: list[str],
    *,
    work_dir: Path,
    zip_name: str,
    quality_report: Path | None = None,
) -> EmailMessage:
    report = (
        quality_report if quality_report is not None and Path(quality_report).is_file() else None
    )
    if report is not None:
        quality = [
            *quality,
            f"  the full quality report is attached: {report.name} (open it in a browser)",
        ]
    msg = EmailMessage()
    msg["To"] = ", ".join(dest.to)
    msg["Subject"] = dest.subject.format(segment=name, rows=summary["rows"], files=len(files))
    msg.set_content(export_body(name, segment, summary, files, quality))
    if sum(f.size_bytes for f in files) > dest.zip_above_bytes:
        archive = zip_files([f.path for f in files], work_dir / zip_name)
        msg.add_attachment(
            archive.read_bytes(), maintype="application", subtype="zip", filename=archive.name
        )
    else:
        for f in files:
            msg.add_attachment(
                f.path.read_bytes(), maintype="text", subtype="csv", filename=f.name
            )
    if report is not None:
        msg.add_attachment(
            report.read_bytes(), maintype="text", subtype="html", filename=report.name
        )
    return msg
