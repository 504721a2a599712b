"""`explain`: the source records of a customer and why they were merged, for `crmclean explain`.

Reads only (works on a read-only connection). E-mail addresses and phone numbers are masked.
"""

from __future__ import annotations

import json

import duckdb

from pipelines.fields import PASS_THROUGH_FIELDS
from pipelines.privacy.masking import mask_email, mask_phone


def _name(first, infix, last) -> str:
    return " ".join(p for p in (first, infix, last) if p) or "(no name)"


# Pass-through fields shown with the address (after the house number) and on their own line.
_WITH_ADDRESS = tuple(f for f, pick in PASS_THROUGH_FIELDS.items() if pick == "address")
_OTHERS = tuple(f for f in PASS_THROUGH_FIELDS if f not in _WITH_ADDRESS)
_GOLDEN = (
    "first_name",
    "infix",
    "last_name",
    "email",
    "phone",
    "street",
    "house_number",
    *_WITH_ADDRESS,
    "postcode",
    "city",
    "country",
    "birth_date",
    *_OTHERS,
    "source_count",
    "created_at",
    "updated_at",
)
_RECORD = (
    "first_name",
    "infix",
    "last_name",
    "email",
    "phone",
    "postcode",
    "house_number",
    *_WITH_ADDRESS,
    "birth_date",
)


def _joined(*parts) -> str:
    return " ".join(str(p) for p in parts if p)


def explain(con: duckdb.DuckDBPyConnection, customer_id: str) -> str:
    """A readable account of one customer: golden values, source records, evidence, id history."""
    customer_id = customer_id.strip()
    found = con.execute(
        f"SELECT {', '.join(_GOLDEN)} FROM customers WHERE customer_id = ?", [customer_id]
    ).fetchone()
    history = con.execute(
        """SELECT old_customer_id, new_customer_id, kind, "at" FROM customer_merges
           WHERE old_customer_id = ? OR new_customer_id = ? ORDER BY "at", old_customer_id""",
        [customer_id, customer_id],
    ).fetchall()
    if found is None:
        moved = [h for h in history if h[0] == customer_id]
        if moved:
            lines = [f"{customer_id} no longer exists:"]
            lines += [f"  {kind}d into {new} at {at:%Y-%m-%d %H:%M}" for _, new, kind, at in moved]
            return "\n".join(lines)
        return f"{customer_id}: no such customer"
    g = dict(zip(_GOLDEN, found))
    created, updated = g["created_at"], g["updated_at"]
    lines = [
        f"customer {customer_id}: {_name(g['first_name'], g['infix'], g['last_name'])}",
        f"  e-mail {mask_email(g['email']) or '-'}, phone {mask_phone(g['phone']) or '-'}, "
        f"born {g['birth_date'] or '-'}",
        "  address "
        f"{_joined(g['street'], g['house_number'], *(g[f] for f in _WITH_ADDRESS)) or '-'}, "
        f"{_joined(g['postcode'], g['city'], g['country']) or '-'}",
        *(
            [f"  {', '.join(f'{f} {g[f]}' for f in _OTHERS if g[f] is not None)}"]
            if any(g[f] is not None for f in _OTHERS)
            else []
        ),
        f"  created {created:%Y-%m-%d %H:%M}, updated {updated:%Y-%m-%d %H:%M}"
        if created and updated
        else "",
        "",
        f"source records ({g['source_count']}):",
    ]
    records = con.execute(
        f"""SELECT cs.source, cs.source_record_id, cs.match_score, cs.linked_at,
                  {", ".join(f"c.{f}" for f in _RECORD)}, c.updated_at
           FROM customer_sources cs
           LEFT JOIN contacts c
             ON c.source = cs.source AND c.source_record_id = cs.source_record_id
           WHERE cs.customer_id = ? ORDER BY cs.source, cs.source_record_id""",
        [customer_id],
    ).fetchall()
    for source, rid, score, linked, *values in records:
        c = dict(zip(_RECORD, values))
        score_text = f"score {score:.4f}" if score is not None else "alone"
        where = _joined(c["postcode"], c["house_number"], *(c[f] for f in _WITH_ADDRESS))
        lines.append(
            f"  {source}:{rid:<14} {_name(c['first_name'], c['infix'], c['last_name']):<28} "
            f"{mask_email(c['email']) or '-':<24} {mask_phone(c['phone']) or '-':<16} "
            f"{where or '-':<14} {c['birth_date'] or '-'}  ({score_text}, "
            f"linked {linked:%Y-%m-%d})"
        )
    evidence = con.execute(
        """SELECT left_source, left_record_id, right_source, right_record_id, match_weight,
                  match_probability, rule, comparison
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
