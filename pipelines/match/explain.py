"""`explain`: the source records of a customer and why they were merged, for `crmclean explain`.

Reads only (works on a read-only connection). E-mail addresses and phone numbers are masked.
"""

from __future__ import annotations

import json

import duckdb

from pipelines.privacy.masking import mask_email, mask_phone


def _name(first, infix, last) -> str:
    return " ".join(p for p in (first, infix, last) if p) or "(no name)"


def explain(con: duckdb.DuckDBPyConnection, customer_id: str) -> str:
    """A readable account of one customer: golden values, source records, pairwise evidence, id history."""
    customer_id = customer_id.strip()
    row = con.execute(
        """SELECT first_name, infix, last_name, email, phone, street, house_number, house_number_suffix,
                  postcode, city, country, birth_date, source_count, created_at, updated_at
           FROM customers WHERE customer_id = ?""",
        [customer_id],
    ).fetchone()
    history = con.execute(
        """SELECT old_customer_id, new_customer_id, kind, "at" FROM customer_merges
           WHERE old_customer_id = ? OR new_customer_id = ? ORDER BY "at", old_customer_id""",
        [customer_id, customer_id],
    ).fetchall()
    if row is None:
        moved = [h for h in history if h[0] == customer_id]
        if moved:
            lines = [f"{customer_id} no longer exists:"]
            lines += [f"  {kind}d into {new} at {at:%Y-%m-%d %H:%M}" for _, new, kind, at in moved]
            return "\n".join(lines)
        return f"{customer_id}: no such customer"
    (
        first,
        infix,
        last,
        email,
        phone,
        street,
        number,
        suffix,
        postcode,
        city,
        country,
        birth,
        count,
        created,
        updated,
    ) = row
    lines = [
        f"customer {customer_id}: {_name(first, infix, last)}",
        f"  e-mail {mask_email(email) or '-'}, phone {mask_phone(phone) or '-'}, born {birth or '-'}",
        f"  address {' '.join(str(p) for p in (street, number, suffix) if p) or '-'}, "
        f"{' '.join(str(p) for p in (postcode, city, country) if p) or '-'}",
        f"  created {created:%Y-%m-%d %H:%M}, updated {updated:%Y-%m-%d %H:%M}"
        if created and updated
        else "",
        "",
        f"source records ({count}):",
    ]
    records = con.execute(
        """SELECT cs.source, cs.source_record_id, cs.match_score, cs.linked_at,
                  c.first_name, c.infix, c.last_name, c.email, c.phone, c.postcode, c.house_number,
                  c.house_number_suffix, c.birth_date, c.updated_at
           FROM customer_sources cs
           LEFT JOIN contacts c ON c.source = cs.source AND c.source_record_id = cs.source_record_id
           WHERE cs.customer_id = ? ORDER BY cs.source, cs.source_record_id""",
        [customer_id],
    ).fetchall()
    for source, rid, score, linked, f, i, ln, em, ph, pc, hn, sfx, bd, upd in records:
        score_text = f"score {score:.4f}" if score is not None else "alone"
        lines.append(
            f"  {source}:{rid:<14} {_name(f, i, ln):<28} {mask_email(em) or '-':<24} {mask_phone(ph) or '-':<16} "
            f"{' '.join(str(p) for p in (pc, hn, sfx) if p) or '-':<14} {bd or '-'}  ({score_text}, "
            f"linked {linked:%Y-%m-%d})"
        )
    evidence = con.execute(
        """SELECT left_source, left_record_id, right_source, right_record_id, match_weight, match_probability,
                  rule, comparison
           FROM match_evidence WHERE customer_id = ? ORDER BY match_weight DESC NULLS FIRST""",
        [customer_id],
    ).fetchall()
    lines += [
        "",
        "why they were merged:" if evidence else "why: a single source record, nothing merged",
    ]
    for ls, lr, rs, rr, weight, prob, rule, comparison in evidence:
        if comparison is None:
            lines.append(f"  {ls}:{lr} + {rs}:{rr}: {rule}")
            continue
        lines.append(
            f"  {ls}:{lr} + {rs}:{rr}: match weight {weight:+.1f} bits (probability {prob:.4f}), "
            f"found by blocking rule(s) {rule}"
        )
        for field, detail in json.loads(comparison).items():
            lines.append(f"      {field:<11} {detail['label']:<36} {detail['weight']:+6.2f}")
    if history:
        lines += ["", "id history:"]
        for old, new, kind, at in history:
            lines.append(f"  {at:%Y-%m-%d %H:%M}  {kind:<6} {old} -> {new}")
    return "\n".join(line for line in lines if line is not None)
