"""E-mail addresses: trimmed, lower case, syntax checked offline by email-validator (no DNS).

- An obvious misspelling of a well-known provider's domain is corrected: status `corrected`,
  reason `domain_typo_corrected`, the typed text stays in `email_raw`. Obvious means: a listed
  correction (`ziggo.com` -> `ziggo.nl`, `gmal.com` -> `gmail.com`, see mail_domains.py), a
  top-level-domain slip of a provider (`gmail.con`, `ziggo.nll`), or one edit inside the name of
  exactly one provider whose name has at least five letters, same top-level domain (`gmial.com`,
  `hotmial.nl`, `outlok.com`); in a shorter name only two letters swapped or one doubled
  (`liev.nl`, `liive.be`), since one more or one other letter often makes another real name.
- A less certain likeness (two edits, a slip plus an edit: `hotmaill.con`) is not applied: the
  address is `invalid` with reason `domain_typo` and the likely address goes to `email_suggestion`.
- An address at a closed mail provider (`hetnet.nl`, `swipnet.se`, ...) keeps its value, for
  matching, but is `invalid` with reason `closed_mail_provider` and `email_is_closed_provider`.
- `email_is_personal_provider`: the domain is a consumer mailbox provider, not a company domain.
- `email_is_role`: the local part names a function, not a person (`info@`, `sales@`).
- `email_is_disposable`: the domain (or a parent domain) is on the `disposable-email-domains`
  block list.

Batch path: plain ASCII addresses that match a strict subset of what email-validator accepts
(`FAST_PATTERN`) are decided in SQL; only the rest goes through email-validator, once per
distinct value. Domain facts (correction, typo, disposable, closed, consumer) are computed once
per distinct domain.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from email_validator import EmailNotValidError, validate_email
from rapidfuzz.distance import OSA

from pipelines.normalize.mail_domains import (
    CLOSED_MAIL_DOMAINS,
    CONSUMER_MAIL_DOMAINS,
    DOMAIN_CORRECTIONS,
    TYPO_TARGET_DOMAINS,
    is_consumer_domain,
)
from pipelines.normalize.text import clean_text, is_missing, list_sql, q, status_of


class EmailResult(NamedTuple):
    value: str | None
    status: str
    reason: str | None
    suggestion: str | None
    is_role: bool | None
    is_disposable: bool | None
    is_closed_provider: bool | None = None
    is_personal_provider: bool | None = None


class DomainFacts(NamedTuple):
    correction: str | None  # the provider domain this one is certainly a typo of (applied)
    suggestion: str | None  # the provider domain this one is probably a typo of (not applied)
    is_disposable: bool  # of the domain after correction, as are the two below
    is_closed: bool
    is_personal: bool


# Local parts that name a function rather than a person (RFC 2142 and Dutch/Swedish habits).
ROLE_LOCAL_PARTS = frozenset(
    """info information sales marketing support help helpdesk service klantenservice
    customerservice admin administrator administratie boekhouding finance billing invoice invoices
    factuur facturen facturatie office kantoor contact kontakt hello hallo hej mail post webmaster
    postmaster hostmaster abuse noc security noreply no-reply donotreply do-not-reply newsletter
    nieuwsbrief news press pers hr jobs vacatures careers werk recruitment team reception receptie
    orders order bestellingen shop webshop privacy legal compliance accounts ict it kundtjanst
    kundservice ekonomi faktura forsaljning""".split()
)

# The targets of typo corrections and suggestions.
PROVIDER_DOMAINS = TYPO_TARGET_DOMAINS
# A one-edit misspelling is corrected only inside a provider name at least this long; in a shorter
# name (`live`, `home`) only a typing slip that makes no word: two letters swapped or one doubled.
MIN_CORRECTED_NAME = 5
# Common top-level-domain slips; applied only when the result is a provider domain.
TLD_TYPOS = {
    "con": "com",
    "cmo": "com",
    "ocm": "com",
    "vom": "com",
    "xom": "com",
    "comm": "com",
    "coom": "com",
    "cm": "com",
    "co": "com",
    "om": "com",
    "cpm": "com",
    "cim": "com",
    "comn": "com",
    "nll": "nl",
    "nk": "nl",
    "ml": "nl",
    "bee": "be",
    "ve": "be",
    "sw": "se",
    "see": "se",
    "ne": "net",
    "nte": "net",
}
SPECIAL_USE_TLDS = ("arpa", "invalid", "local", "localhost", "onion", "test")

_ATEXT = "a-z0-9_!#$%&'*+/=?^`{|}~-"
# Plain addresses: dot-atom local part, hostname labels, a letters-only top-level domain. Case
# does not matter (the text is ASCII, checked first, so `(?i)` folds nothing exotic).
FAST_PATTERN = (
    f"(?i)[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\\.)+[a-z]{{2,63}}"
)
SPECIAL_USE_PATTERN = "(?i)\\.(?:" + "|".join(SPECIAL_USE_TLDS) + ")$"


def _reason(message: str) -> str:
    m = message.lower()
    if "must have an @-sign" in m:
        return "no_at_sign"
    if "too long" in m:
        return "too_long"
    if "special-use" in m or "reserved" in m:
        return "reserved_domain"
    return "syntax"


def is_role(address: str) -> bool:
    local = address.split("@", 1)[0].split("+", 1)[0]
    return local in ROLE_LOCAL_PARTS


@lru_cache(maxsize=1)
def _blocklist() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(blocklist)


@lru_cache(maxsize=65536)
def domain_facts(domain: str, closed: frozenset[str] = CLOSED_MAIL_DOMAINS) -> DomainFacts:
    """Correction, typo suggestion, disposable, closed and consumer flags of one (lower-case)
    domain."""
    correction = correct_domain(domain)
    # Typo domains are often registered as catch-alls and listed as disposable (gmial.com): the
    # correction or suggestion is what helps, so it is made either way.
    suggestion = None if correction else suggest_domain(domain)
    target = correction or domain
    labels = target.split(".")
    blocked = _blocklist()
    disposable = any(".".join(labels[i:]) in blocked for i in range(len(labels) - 1))
    return DomainFacts(
        correction, suggestion, disposable, target in closed, is_consumer_domain(target)
    )


def correct_domain(domain: str) -> str | None:
    """The provider domain `domain` is certainly a misspelling of, or None (see the module
    docstring)."""
    if domain in CONSUMER_MAIL_DOMAINS:  # a real provider is nobody's typo (outlook.de, gmx.at)
        return None
    if domain in DOMAIN_CORRECTIONS:
        return DOMAIN_CORRECTIONS[domain]
    head, _, tld = domain.rpartition(".")
    fixed_tld = TLD_TYPOS.get(tld)
    if fixed_tld and f"{head}.{fixed_tld}" in PROVIDER_DOMAINS and len(head) >= MIN_CORRECTED_NAME:
        return f"{head}.{fixed_tld}"
    name = head.rsplit(".", 1)[-1]
    found = None
    for candidate in PROVIDER_DOMAINS:
        c_head, _, c_tld = candidate.rpartition(".")
        if c_tld != tld or "." in c_head or head != name:
            continue
        if len(c_head) < MIN_CORRECTED_NAME:
            fits = len(c_head) >= 3 and (_swapped(name, c_head) or _doubled(name, c_head))
        else:
            fits = (
                abs(len(c_head) - len(name)) <= 1
                and OSA.distance(name, c_head, score_cutoff=1) == 1
            )
        if fits:
            if found:
                return None  # two providers fit: not obvious
            found = candidate
    return found


def _swapped(typo: str, name: str) -> bool:
    """`liev` for `live`: two neighbouring letters swapped."""
    if len(typo) != len(name):
        return False
    diff = [i for i, (a, b) in enumerate(zip(typo, name)) if a != b]
    if len(diff) != 2 or diff[1] != diff[0] + 1:
        return False
    return typo[diff[0]] == name[diff[1]] and typo[diff[1]] == name[diff[0]]


def _doubled(typo: str, name: str) -> bool:
    """`liive` for `live`: one letter typed twice."""
    return len(typo) == len(name) + 1 and any(
        typo[i] == typo[i + 1] and typo[:i] + typo[i + 1 :] == name for i in range(len(typo) - 1)
    )


def suggest_domain(domain: str) -> str | None:
    """The provider domain `domain` is probably a misspelling of, or None.

    A TLD slip (`gmail.con`) or one edit (`gmial.com`, `hotmil.nl`: insert, delete, replace or
    swap two neighbours) away from exactly one provider domain; two edits only for longer names.
    """
    if domain in CONSUMER_MAIL_DOMAINS:
        return None
    head, _, tld = domain.rpartition(".")
    fixed_tld = TLD_TYPOS.get(tld)
    if fixed_tld and f"{head}.{fixed_tld}" in PROVIDER_DOMAINS:
        return f"{head}.{fixed_tld}"
    best, best_distance, tie = None, 3, False
    for candidate in PROVIDER_DOMAINS:
        if abs(len(candidate) - len(domain)) > 2:
            continue
        d = OSA.distance(domain, candidate, score_cutoff=2)
        if d < best_distance:
            best, best_distance, tie = candidate, d, False
        elif d == best_distance:
            tie = True
    if best is None or tie:
        return None
    if best_distance == 1 or (best_distance == 2 and len(domain) >= 10 and domain[0] == best[0]):
        return best
    return None


def normalize_email(raw: str | None, closed: frozenset[str] = CLOSED_MAIL_DOMAINS) -> EmailResult:
    """` Jan@Gmail.com ` -> `jan@gmail.com` valid; `jan@gmial.com` -> `jan@gmail.com` corrected.

    `closed`: the closed mail domains in force (the shipped list plus the operator's changes).
    """
    clean = clean_text(raw)
    if is_missing(clean):
        return EmailResult(None, "missing", None, None, None, None)
    try:
        info = validate_email(clean, check_deliverability=False)
    except EmailNotValidError as e:
        return EmailResult(None, "invalid", _reason(str(e)), None, None, None)
    value = info.normalized.lower()
    return finish_email(clean, value, closed)


def finish_email(
    clean: str, value: str, closed: frozenset[str] = CLOSED_MAIL_DOMAINS
) -> EmailResult:
    """Correction, role, disposable, closed and consumer facts of a syntactically valid address."""
    local, _, domain = value.rpartition("@")
    facts = domain_facts(domain, closed)
    role = is_role(value)
    if facts.suggestion:
        return EmailResult(
            None,
            "invalid",
            "domain_typo",
            f"{local}@{facts.suggestion}",
            role,
            facts.is_disposable,
            facts.is_closed,
            facts.is_personal,
        )
    if facts.correction:
        value = f"{local}@{facts.correction}"
    if facts.is_closed:
        status, reason = "invalid", "closed_mail_provider"
    elif facts.correction:
        status, reason = "corrected", "domain_typo_corrected"
    else:
        status, reason = status_of(clean, value), None
    return EmailResult(
        value, status, reason, None, role, facts.is_disposable, facts.is_closed, facts.is_personal
    )


def fast_email_sql(text: str) -> str:
    """SQL condition: `text` is an address email-validator accepts as it is (up to case).

    A strict subset of what email-validator accepts: printable ASCII, the plain pattern above,
    local part at most 64 characters, domain at most 63 (so no label can be longer), no `--`
    (punycode and its look-alikes go to email-validator), no special-use domain. Such a text is
    also its own cleaned form (no spaces) and no missing marker (it has an @).
    """
    return (
        f"(strlen({text}) = length({text}) AND regexp_full_match({text}, {q(FAST_PATTERN)}) "
        f"AND strpos({text}, '@') <= 65 AND length({text}) - strpos({text}, '@') <= 63 "
        f"AND NOT contains({text}, '--') AND NOT regexp_matches({text}, {q(SPECIAL_USE_PATTERN)}))"
    )


def role_sql(value_expr: str) -> str:
    local = f"split_part(split_part({value_expr}, '@', 1), '+', 1)"
    return f"list_contains({list_sql(sorted(ROLE_LOCAL_PARTS))}, {local})"
