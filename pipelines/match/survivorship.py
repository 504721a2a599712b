"""Survivorship: which source record's value a golden customer shows, per group of fields.

Fields that belong together come from one record (an address, an infix with its surname), so a
customer never shows the street of one record with the postcode of another. Per group, a record
with a value beats one without; then fixed safeguards; then the configured rules in order
(`matching.yaml`, built-in order per group in `settings.DEFAULT_SURVIVORSHIP`):

- `status`: valid or corrected beats inferred beats invalid;
- `recency`: the newest EVIDENCE wins. A record's recency is its `updated_at`, else its latest
  activity (last purchase, newsletter opt-in time, or the export date of the drop in which its
  values changed from an earlier drop: `match_records.changed_at`), else the export date of the
  drop it came in (`ingest_log.exported_at`: the date in the file name, else the file's mtime),
  else load time. An export date only bounds a record's age from above (a full export re-sends
  records nobody touched for years), so by default a record's own evidence beats another's export
  date, and export dates rank records without evidence of their own (the newer drop wins);
  `export_date_counts_as_update: true` compares export dates with update times instead;
- `source_priority`: lower `priority` in sources.yaml wins;
- `consensus`: the value most records of the customer show (names: compared without case and
  diacritics; a tie goes to the spelling more common across all contacts, so a one-off typo loses);
- `personal` (email): a personal mailbox beats a role address (info@, sales@);
- `consumer` (email, when `b2c`): a consumer mail provider beats a company domain.

Safeguards that no order overrides: an email that bounced (hard or soft, per `suppressions` or a
hard-bounce event), drew a spam complaint or is at a closed mail provider never beats one that
did not; an initial, a call name (Piet, when another record says Pieter) or mojibake never
beats a full, clean first name. An unsubscribe is consent, not deliverability: it does not move
a customer to another address, and like a complaint it suppresses the person at every address
their records give (pipelines/privacy/rules.py), so switching addresses never gets around it.
Within the winning name, a spelling with diacritics beats the same name without them (Sjöberg over
Sjoberg). Filled in afterwards from the customer's other records: the country when the chosen
address has none (status `inferred`), the city from a record with the same postcode. The newsletter
opt-in is the latest statement, the last purchase the latest date.
"""

from __future__ import annotations

from itertools import combinations

import duckdb
import pyarrow as pa

from pipelines.fields import GOLDEN_COLUMNS, PASS_THROUGH_FIELDS
from pipelines.match.nicknames import GROUPS as GROUPS_OF_NAMES
from pipelines.match.settings import MatchSettings

# corrected (a typo or format repaired) is as usable as valid; inferred less; invalid least.
_STATUS_RANK = (
    "CASE {s} WHEN 'valid' THEN 0 WHEN 'corrected' THEN 0 WHEN 'inferred' THEN 1 "
    "WHEN 'invalid' THEN 2 ELSE 3 END"
)


def _rank(col: str) -> str:
    return _STATUS_RANK.format(s=col)


# Lower case without diacritics: how names are compared for consensus.
def _fold(expr: str) -> str:
    return f"lower(strip_accents({expr}))"


# Mojibake left over from a wrong decoding (UTF-8 read as Latin-1): Ã¶, Ã©, Â...
_MOJIBAKE = "regexp_matches({c}, 'Ã|Â[\\xA0-\\xBF]|â€')"


def _passing(pick: str) -> tuple[str, ...]:
    """The pass-through fields (pipelines/fields.py) that travel with `pick`."""
    return tuple(f for f, group in PASS_THROUGH_FIELDS.items() if group == pick)


# pick -> (fields taken together, "has a value" test, status rank, safeguard rank, consensus key);
# the pass-through fields of a pick come from the record that wins it.
GROUPS: dict[str, tuple[tuple[str, ...], str, str, str, str]] = {
    "first_name": (
        ("first_name", *_passing("first_name")),
        "first_name IS NOT NULL",
        _rank("first_name_status"),
        "first_name_demoted",
        "first_name_fold",
    ),
    "last_name": (
        ("infix", "last_name", *_passing("last_name")),
        "last_name IS NOT NULL",
        _rank("last_name_status"),
        f"CASE WHEN {_MOJIBAKE.format(c='last_name')} THEN 1 ELSE 0 END",
        "last_name_fold",
    ),
    "email": (
        ("email", "email_status", *_passing("email")),
        "email IS NOT NULL",
        _rank("email_status"),
        "email_blocked",
        "email",
    ),
    "phone": (
        ("phone", "phone_status", *_passing("phone")),
        "phone IS NOT NULL",
        _rank("phone_status"),
        "0",
        "phone",
    ),
    "address": (
        (
            "street",
            "house_number",
            *_passing("address"),
            "postcode",
            "city",
            "country",
            "country_status",
            "postcode_status",
        ),
        "(postcode IS NOT NULL OR street IS NOT NULL)",
        f"{_rank('postcode_status')} + {_rank('street_status')} + {_rank('house_number_status')}",
        "0",
        "concat_ws('|', postcode, house_number, house_number_suffix)",
    ),
    "birth_date": (
        ("birth_date", "birth_date_status", *_passing("birth_date")),
        "birth_date IS NOT NULL",
        _rank("birth_date_status"),
        "0",
        "birth_date",
    ),
}
# The settings group each pick follows.
SETTINGS_GROUP = {
    "first_name": "name",
    "last_name": "name",
    "email": "email",
    "phone": "phone",
    "address": "address",
    "birth_date": "birth_date",
}
# Golden columns that come from the opt-in pick and the per-customer totals, not from GROUPS.
_OPT_IN_AND_TOTALS = (
    "customer_id",
    "newsletter_opt_in",
    "newsletter_opt_in_at",
    "newsletter_opt_in_source",
    "double_opt_in",
    "last_purchase_at",
    "source_count",
    "sources",
)
# A golden column nothing picks (a canonical field added without a place here) fails at import,
# not as an empty column of every customer.
_unknown_picks = set(PASS_THROUGH_FIELDS.values()) - set(GROUPS)
_unpicked = set(GOLDEN_COLUMNS) - {f for fields, *_ in GROUPS.values() for f in fields}
_unpicked -= set(_OPT_IN_AND_TOTALS)
if _unknown_picks or _unpicked:
    raise ValueError(
        f"survivorship: unknown pick(s) {sorted(_unknown_picks)} in fields.PASS_THROUGH_FIELDS; "
        f"golden column(s) {sorted(_unpicked)} without a pick (add them to PASS_THROUGH_FIELDS)"
    )


def _sort_terms(rules: list[str], b2c: bool, export_date_counts_as_update: bool) -> list[str]:
    """The configured rules as ascending sort expressions (smallest wins), with the fixed
    tie-breaks."""
    newest = "coalesce(-epoch_us(recency), 9223372036854775807)"
    recency = [newest] if export_date_counts_as_update else ["evidence_tier", newest]
    terms = {
        "status": ["status_rank"],
        "source_priority": ["priority"],
        "recency": recency,
        "consensus": ["-same_count", "-global_count"],
        "personal": ["CASE WHEN email_is_role THEN 1 ELSE 0 END"],
        "consumer": ["consumer_rank" if b2c else "0"],
    }
    return [t for r in rules for t in terms[r]] + [
        "priority",
        newest,
        "source",
        "source_record_id",
    ]


# The contact columns survivorship reads (copying whole contact rows would cost more than
# the picks).
_MEMBER_COLUMNS = sorted(
    {f for fields, *_ in GROUPS.values() for f in fields}
    | {
        "source",
        "source_record_id",
        "first_name_status",
        "last_name_status",
        "first_name_is_initials",
        "street_status",
        "house_number_status",
        "newsletter_opt_in",
        "newsletter_opt_in_at",
        "double_opt_in",
        "last_purchase_at",
        "updated_at",
        "loaded_at",
        "email_is_role",
    }
)


def _contact_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'contacts'"
        ).fetchall()
    }


def _email_flags(columns: set[str]) -> tuple[str, str]:
    """(closed provider test, consumer rank) from the normalizer's flags, where it writes them."""
    closed = (
        "coalesce(c.email_is_closed_provider, false)"
        if "email_is_closed_provider" in columns
        else "false"
    )
    closed += " OR coalesce(c.email_reason ILIKE '%closed%', false)"
    consumer = (
        (
            "CASE WHEN c.email_is_personal_provider THEN 0 "
            "WHEN c.email_is_personal_provider IS NULL THEN 1 "
            "ELSE 2 END"
        )
        if "email_is_personal_provider" in columns
        else "1"
    )
    return closed, consumer


def call_name_pairs() -> list[tuple[str, str]]:
    """(call name, fuller form) pairs: every name of a group to its formal name (the first), and
    among the others a shorter form to a longer one (Piet -> Pieter). Ambiguous pairs are left
    out."""
    pairs: set[tuple[str, str]] = set()
    for group in GROUPS_OF_NAMES:
        formal, others = group[0], sorted(set(group[1:]) - {group[0]})
        pairs.update((x, formal) for x in others)
        for a, b in combinations(others, 2):
            if len(a) != len(b):
                pairs.add((a, b) if len(a) < len(b) else (b, a))
    return sorted(p for p in pairs if (p[1], p[0]) not in pairs)


def _nicknames(con: duckdb.DuckDBPyConnection) -> None:
    """`_m_nick(short, full)`: `short` is a call name (or a shorter form) of `full`."""
    pairs = call_name_pairs()
    table = pa.table({"short": [a for a, _ in pairs], "full": [b for _, b in pairs]})
    con.register("_m_nick_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE _m_nick AS SELECT * FROM _m_nick_arrow")
    con.unregister("_m_nick_arrow")


# Survivorship takes customers in chunks of about this many member records (by a hash of the
# customer id). It looks at one customer at a time, so chunks change nothing but the memory its
# joins and window operators need: at 10 million people (15 million records) one pass did not
# fit DuckDB's 6 GiB.
GOLDEN_CHUNK_MEMBERS = 4_000_000


def build_golden(
    con: duckdb.DuckDBPyConnection,
    members: str,
    settings: MatchSettings,
    source_priority: dict[str, int],
    chunk_members: int | None = None,
) -> None:
    """Create `_m_golden` (GOLDEN_COLUMNS) for the customers in
    `members(customer_id, source, source_record_id)`, in chunks of about `chunk_members` member
    records (`GOLDEN_CHUNK_MEMBERS`)."""
    con.execute("CREATE OR REPLACE TEMP TABLE _m_priority (source VARCHAR, priority INTEGER)")
    if source_priority:
        con.executemany("INSERT INTO _m_priority VALUES (?, ?)", list(source_priority.items()))
    _nicknames(con)
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_bounced AS
        SELECT email FROM suppressions
        WHERE email IS NOT NULL AND reason IN ('hard_bounce', 'soft_bounce', 'complaint')
        UNION
        SELECT email FROM suppression_events
        WHERE email IS NOT NULL AND event IN ('hard_bounce', 'complaint')
        """
    )
    # How often each name (folded) occurs in all contacts: folded per distinct spelling only.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_names_seen AS
        SELECT 'first_name' AS kind, lower(strip_accents(first_name)) AS fold, sum(n) AS n FROM (
            SELECT first_name, count(*) AS n FROM contacts
            WHERE first_name IS NOT NULL GROUP BY ALL) x
        GROUP BY ALL
        UNION ALL
        SELECT 'last_name', lower(strip_accents(concat_ws(' ', infix, last_name))), sum(n) FROM (
            SELECT infix, last_name, count(*) AS n FROM contacts
            WHERE last_name IS NOT NULL GROUP BY ALL) x
        GROUP BY ALL
        """
    )
    closed, consumer = _email_flags(_contact_columns(con))
    n = con.execute(f"SELECT count(*) FROM {members}").fetchall()[0][0]
    chunks = max(1, -(-n // (chunk_members or GOLDEN_CHUNK_MEMBERS)))
    for k in range(chunks):
        chunk = members
        if chunks > 1:
            chunk = "_m_chunk_members"
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {chunk} AS "
                f"SELECT * FROM {members} WHERE hash(customer_id) % {chunks} = {k}"
            )
        _golden_of(con, chunk, settings, closed, consumer)
        if k == 0:
            con.execute("ALTER TABLE _m_golden RENAME TO _m_golden_all")
        else:
            con.execute("INSERT INTO _m_golden_all SELECT * FROM _m_golden; DROP TABLE _m_golden")
    con.execute("DROP VIEW IF EXISTS _m_chunk_members")
    con.execute("ALTER TABLE _m_golden_all RENAME TO _m_golden")
    for t in ("_m_priority", "_m_nick", "_m_bounced", "_m_names_seen"):
        con.execute(f"DROP TABLE {t}")


def _golden_of(
    con: duckdb.DuckDBPyConnection,
    members: str,
    settings: MatchSettings,
    closed: str,
    consumer: str,
) -> None:
    """`_m_golden` for the customers in `members` (build_golden's tables in place)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_member_rows AS
        SELECT m.customer_id, {", ".join(f"c.{col}" for col in _MEMBER_COLUMNS)},
               coalesce(p.priority, 100) AS priority,
               coalesce(c.updated_at,
                        greatest(c.last_purchase_at, c.newsletter_opt_in_at, mr.changed_at),
                        l.exported_at, l.remote_mtime, c.loaded_at) AS recency,
               CASE WHEN c.updated_at IS NOT NULL OR c.last_purchase_at IS NOT NULL
                         OR c.newsletter_opt_in_at IS NOT NULL OR mr.changed_at IS NOT NULL THEN 0
                    WHEN l.exported_at IS NOT NULL OR l.remote_mtime IS NOT NULL THEN 1
                    ELSE 2 END AS evidence_tier,
               CASE WHEN b.email IS NOT NULL THEN 2 WHEN {closed} THEN 1 ELSE 0 END
                   AS email_blocked,
               {consumer} AS consumer_rank,
               {_fold("c.first_name")} AS first_name_fold,
               {_fold("concat_ws(' ', c.infix, c.last_name)")} AS last_name_fold, n.members
        FROM {members} m
        JOIN (SELECT customer_id, count(*) AS members FROM {members} GROUP BY customer_id) n
          USING (customer_id)
        JOIN contacts c ON c.source = m.source AND c.source_record_id = m.source_record_id
        LEFT JOIN _m_priority p ON p.source = c.source
        LEFT JOIN ingest_log l ON l.file_id = c.file_id
        LEFT JOIN match_records mr
          ON mr.source = c.source AND mr.source_record_id = c.source_record_id
        LEFT JOIN _m_bounced b ON b.email = c.email
        """
    )
    # A customer of one record shows that record: only customers of several go through the picks.
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _m_multi AS SELECT * FROM _m_member_rows WHERE members > 1"
    )
    # A first name loses to another record's fuller form of it: an initial to any written-out
    # name, a call name to the full name it stands for (Piet -> Pieter), mojibake to a clean one.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_first_demoted AS
        WITH names AS (
            SELECT customer_id, source, source_record_id, first_name, first_name_fold,
                   coalesce(first_name_is_initials, false) AS initials,
                   bool_or(NOT coalesce(first_name_is_initials, false))
                       OVER (PARTITION BY customer_id) AS has_written
            FROM _m_multi WHERE first_name IS NOT NULL),
        call_names AS (
            SELECT DISTINCT s.customer_id, s.first_name_fold FROM names s
            JOIN _m_nick n ON n.short = s.first_name_fold
            JOIN names f ON f.customer_id = s.customer_id AND f.first_name_fold = n.full)
        SELECT n.customer_id, n.source, n.source_record_id,
               CASE WHEN n.initials AND n.has_written THEN 3
                    WHEN c.customer_id IS NOT NULL THEN 2
                    WHEN {_MOJIBAKE.format(c="n.first_name")} THEN 1
                    ELSE 0 END AS first_name_demoted
        FROM names n LEFT JOIN call_names c USING (customer_id, first_name_fold)
        """
    )
    picks = []
    for pick, (fields, present, status_rank, safeguard, key) in GROUPS.items():
        rules = settings.survivorship.rules_for(SETTINGS_GROUP[pick])
        order = ", ".join(
            _sort_terms(
                rules,
                settings.survivorship.b2c,
                settings.survivorship.export_date_counts_as_update,
            )
        )
        cols = ", ".join(fields)
        named = pick in ("first_name", "last_name")
        joins = (
            "LEFT JOIN _m_first_demoted d USING (customer_id, source, source_record_id)"
            if pick == "first_name"
            else ""
        )
        if named and "consensus" in rules:
            joins += f" LEFT JOIN _m_names_seen g ON g.kind = '{pick}' AND g.fold = r.{key}"
        global_count = "coalesce(g.n, 0)" if named and "consensus" in rules else "0"
        same_count = (
            f"count(*) OVER (PARTITION BY customer_id, {key})" if "consensus" in rules else "0"
        )
        safeguard_sql = "coalesce(d.first_name_demoted, 0)" if pick == "first_name" else safeguard
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _m_pick_{pick} AS
            SELECT customer_id, {cols}, {key} AS pick_key FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY customer_id
                    ORDER BY CASE WHEN {present} THEN 0 ELSE 1 END, safeguard, {order}) AS rn
                FROM (SELECT r.*, {status_rank} AS status_rank, {safeguard_sql} AS safeguard,
                             {same_count} AS same_count, {global_count} AS global_count
                      FROM _m_multi r {joins}) r
            ) s WHERE rn = 1
            """
        )
        picks.append(pick)
    # Within the winning name (same letters), the spelling with diacritics, then the most
    # common one.
    for pick, fields in (("first_name", ("first_name",)), ("last_name", ("infix", "last_name"))):
        fold = "first_name_fold" if pick == "first_name" else "last_name_fold"
        cols = ", ".join(fields + _passing(pick))
        shown = " || ".join(f"coalesce(r.{f}, '')" for f in fields)
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _m_spell_{pick} AS
            SELECT customer_id, {cols} FROM (
                SELECT *, row_number() OVER (
                    PARTITION BY customer_id
                    ORDER BY mojibake, plain, spelling_count DESC, chosen, priority, source,
                             source_record_id) AS rn
                FROM (SELECT r.customer_id, {", ".join("r." + f for f in fields + _passing(pick))},
                             r.priority, r.source,
                             r.source_record_id,
                             CASE WHEN {_MOJIBAKE.format(c=shown)} THEN 1 ELSE 0 END AS mojibake,
                             CASE WHEN strip_accents({shown}) <> {shown} THEN 0 ELSE 1 END
                                 AS plain,
                             count(*) OVER (PARTITION BY r.customer_id, {shown}) AS spelling_count,
                             CASE WHEN {shown}
                                       = ({" || ".join(f"coalesce(p.{f}, '')" for f in fields)})
                                  THEN 0 ELSE 1 END AS chosen
                      FROM _m_pick_{pick} p JOIN _m_multi r
                        ON r.customer_id = p.customer_id AND r.{fold} = p.pick_key) x
            ) s WHERE rn = 1
            UNION ALL
            SELECT customer_id, {cols} FROM _m_pick_{pick} WHERE pick_key IS NULL
            """
        )
        con.execute(
            f"DROP TABLE _m_pick_{pick}; ALTER TABLE _m_spell_{pick} RENAME TO _m_pick_{pick}"
        )
    # The chosen address without a country or city: the customer's other records supply them
    # (the country most records show; the city of a record with the same postcode).
    carried = "".join(f"a.{f}, " for f in _passing("address"))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_address_fill AS
        SELECT a.customer_id, a.street, a.house_number, {carried}a.postcode,
               coalesce(a.city, c.city) AS city, coalesce(a.country, k.country) AS country,
               CASE WHEN a.country IS NULL AND k.country IS NOT NULL THEN 'inferred'
                    ELSE a.country_status END
                   AS country_status,
               a.postcode_status
        FROM _m_pick_address a
        LEFT JOIN (SELECT customer_id, arg_max(country, n) AS country FROM (
                       SELECT customer_id, country, count(*) AS n FROM _m_multi
                       WHERE country IS NOT NULL GROUP BY ALL) x GROUP BY customer_id) k
          USING (customer_id)
        LEFT JOIN (SELECT customer_id, postcode, arg_max(city, recency) AS city FROM _m_multi
                   WHERE city IS NOT NULL AND postcode IS NOT NULL GROUP BY ALL) c
          ON c.customer_id = a.customer_id AND c.postcode = a.postcode AND a.city IS NULL;
        DROP TABLE _m_pick_address;
        ALTER TABLE _m_address_fill RENAME TO _m_pick_address
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_pick_optin AS
        SELECT customer_id, newsletter_opt_in, newsletter_opt_in_at, newsletter_opt_in_source,
               double_opt_in FROM (
            SELECT customer_id, newsletter_opt_in, newsletter_opt_in_at, double_opt_in,
                   source AS newsletter_opt_in_source,
                   row_number() OVER (PARTITION BY customer_id ORDER BY
                       CASE WHEN newsletter_opt_in IS NOT NULL THEN 0 ELSE 1 END,
                       CASE WHEN newsletter_opt_in_at IS NOT NULL THEN 0 ELSE evidence_tier END,
                       coalesce(newsletter_opt_in_at, recency) DESC NULLS LAST,
                       priority, source, source_record_id) AS rn
            FROM _m_multi
        ) s WHERE rn = 1
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _m_pick_totals AS
        SELECT customer_id, max(last_purchase_at) AS last_purchase_at,
               CAST(count(*) AS INTEGER) AS source_count,
               string_agg(DISTINCT source, ',' ORDER BY source) AS sources
        FROM _m_multi GROUP BY customer_id
        """
    )
    joins = " ".join(f"JOIN _m_pick_{g} USING (customer_id)" for g in picks + ["optin"])
    single = {
        "newsletter_opt_in_source": "source AS newsletter_opt_in_source",
        "source_count": "1 AS source_count",
        "sources": "source AS sources",
    }
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _m_golden AS
        SELECT {", ".join(GOLDEN_COLUMNS)}
        FROM _m_pick_totals {joins}
        UNION ALL
        SELECT {", ".join(single.get(c, c) for c in GOLDEN_COLUMNS)}
        FROM _m_member_rows WHERE members = 1
        """
    )
    for g in picks + ["optin", "totals"]:
        con.execute(f"DROP TABLE _m_pick_{g}")
    con.execute("DROP VIEW _m_multi")
    for t in ("_m_member_rows", "_m_first_demoted"):
        con.execute(f"DROP TABLE {t}")
