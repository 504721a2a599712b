"""E-mail addresses: trimmed, lower case, syntax checked offline by email-validator (no DNS).

- A misspelt domain of a well-known mail provider (`gmial.com`, `hotmial.nl`, `gmail.con`)
  makes the address `invalid` with reason `domain_typo`; the likely address goes to
  `email_suggestion` and is never applied silently.
- `email_is_role`: the local part names a function, not a person (`info@`, `sales@`).
- `email_is_disposable`: the domain (or a parent domain) is on the `disposable-email-domains`
  block list.

Batch path: plain ASCII addresses that match a strict subset of what email-validator accepts
(`FAST_PATTERN`) are decided in SQL; only the rest goes through email-validator, once per
distinct value. Domain facts (typo, disposable) are computed once per distinct domain.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from email_validator import EmailNotValidError, validate_email
from rapidfuzz.distance import OSA

from pipelines.normalize.text import clean_text, is_missing, list_sql, q, status_of


class EmailResult(NamedTuple):
    value: str | None
    status: str
    reason: str | None
    suggestion: str | None
    is_role: bool | None
    is_disposable: bool | None


class DomainFacts(NamedTuple):
    suggestion: str | None  # the provider domain this one is probably a typo of
    is_disposable: bool


# Local parts that name a function rather than a person (RFC 2142 and Dutch/Swedish habits).
ROLE_LOCAL_PARTS = frozenset(
    """info information sales marketing support help helpdesk service klantenservice customerservice
    admin administrator administratie boekhouding finance billing invoice invoices factuur facturen
    facturatie office kantoor contact kontakt hello hallo hej mail post webmaster postmaster hostmaster
    abuse noc security noreply no-reply donotreply do-not-reply newsletter nieuwsbrief news press pers
    hr jobs vacatures careers werk recruitment team reception receptie orders order bestellingen
    shop webshop privacy legal compliance accounts ict it kundtjanst kundservice ekonomi
    faktura forsaljning""".split()
)

# Well-known consumer mail domains in NL, BE and SE (and the big international ones): the
# targets of typo suggestions.
PROVIDER_DOMAINS = frozenset(
    """gmail.com googlemail.com hotmail.com hotmail.nl hotmail.be hotmail.se hotmail.fr hotmail.de
    hotmail.co.uk outlook.com outlook.nl outlook.be outlook.se live.com live.nl live.be live.se
    live.fr live.de msn.com icloud.com me.com mac.com yahoo.com yahoo.fr yahoo.se yahoo.de yahoo.co.uk
    ymail.com aol.com protonmail.com proton.me gmx.com gmx.de gmx.net web.de t-online.de orange.fr
    free.fr ziggo.nl kpnmail.nl kpnplanet.nl planet.nl home.nl xs4all.nl hetnet.nl chello.nl
    upcmail.nl casema.nl quicknet.nl zeelandnet.nl caiway.nl solcon.nl tele2.nl online.nl telfort.nl
    versatel.nl hccnet.nl freeler.nl telenet.be skynet.be proximus.be pandora.be scarlet.be base.be
    telia.com telia.se bredband.net spray.se comhem.se bahnhof.se tele2.se glocalnet.net passagen.se
    bredband2.com""".split()
)
# Common top-level-domain slips; applied only when the result is a provider domain.
TLD_TYPOS = {
    "con": "com", "cmo": "com", "ocm": "com", "vom": "com", "xom": "com", "comm": "com", "coom": "com",
    "cm": "com", "co": "com", "om": "com", "nll": "nl", "nk": "nl", "ml": "nl", "bee": "be", "ve": "be",
    "sw": "se", "see": "se", "ne": "net", "nte": "net",
}
SPECIAL_USE_TLDS = ("arpa", "invalid", "local", "localhost", "onion", "test")

_ATEXT = "a-z0-9_!#$%&'*+/=?^`{|}~-"
# Plain addresses: dot-atom local part, hostname labels, a letters-only top-level domain. Case
# does not matter (the text is ASCII, checked first, so `(?i)` folds nothing exotic).
FAST_PATTERN = f"(?i)[{_ATEXT}]+(?:\\.[{_ATEXT}]+)*@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\\.)+[a-z]{{2,63}}"
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
def domain_facts(domain: str) -> DomainFacts:
    """Typo suggestion and disposable flag of one (lower-case) domain."""
    labels = domain.split(".")
    blocked = _blocklist()
    disposable = any(".".join(labels[i:]) in blocked for i in range(len(labels) - 1))
    # Typo domains are often registered as catch-alls and listed as disposable (gmial.com): the
    # suggestion is what helps, so it is made either way.
    return DomainFacts(suggest_domain(domain), disposable)


def suggest_domain(domain: str) -> str | None:
    """The provider domain `domain` is probably a misspelling of, or None.

    A TLD slip (`gmail.con`) or one edit (`gmial.com`, `hotmil.nl`: insert, delete, replace or
    swap two neighbours) away from exactly one provider domain; two edits only for longer names.
    """
    if domain in PROVIDER_DOMAINS:
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


def normalize_email(raw: str | None) -> EmailResult:
    """` Jan@Gmail.com ` -> `jan@gmail.com` valid; `jan@gmial.com` -> invalid, suggestion `jan@gmail.com`."""
    clean = clean_text(raw)
    if is_missing(clean):
        return EmailResult(None, "missing", None, None, None, None)
    try:
        info = validate_email(clean, check_deliverability=False)
    except EmailNotValidError as e:
        return EmailResult(None, "invalid", _reason(str(e)), None, None, None)
    value = info.normalized.lower()
    return finish_email(clean, value)


def finish_email(clean: str, value: str) -> EmailResult:
    """Role, disposable and typo facts of a syntactically valid address."""
    local, _, domain = value.rpartition("@")
    facts = domain_facts(domain)
    role = is_role(value)
    if facts.suggestion:
        return EmailResult(None, "invalid", "domain_typo", f"{local}@{facts.suggestion}", role, facts.is_disposable)
    return EmailResult(value, status_of(clean, value), None, None, role, facts.is_disposable)


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
