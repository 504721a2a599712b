"""When customers were last built, and whether contacts changed since.

A process killed between loading a drop and rebuilding customers leaves customers behind the
contacts; the drop is not new any more on the next run, so "new drops" alone cannot tell.
"""

from __future__ import annotations

from datetime import datetime

import duckdb


def record_customer_build(con: duckdb.DuckDBPyConnection, now: datetime) -> None:
    """Note a build of customers; inside the build's transaction, so both commit or neither."""
    con.execute(
        """INSERT INTO customer_builds (built_at, contacts_loaded_at, contacts, customers)
           SELECT ?, (SELECT max(loaded_at) FROM contacts), (SELECT count(*) FROM contacts),
                  (SELECT count(*) FROM customers)""",
        [now],
    )


def customers_stale(con: duckdb.DuckDBPyConnection) -> bool:
    """True when contacts were loaded after the last completed build of customers (or there are
    contacts and no build yet)."""
    known = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'customer_builds'"
    ).fetchone()[0]
    if not known:  # a warehouse older than this record: built before, not known when
        return bool(con.execute("SELECT count(*) FROM contacts").fetchone()[0])
    newest_contact, covered, builds = con.execute(
        """SELECT (SELECT max(loaded_at) FROM contacts),
                  (SELECT max(contacts_loaded_at) FROM customer_builds),
                  (SELECT count(*) FROM customer_builds)"""
    ).fetchone()
    if newest_contact is None:
        return False
    return not builds or covered is None or newest_contact > covered
