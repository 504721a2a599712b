"""Facts about e-mail domains that no syntax check can know: who runs them, and whether they still
deliver.

- `CONSUMER_MAIL_DOMAINS`: mailbox providers where people have a private address (the big
  international ones and the ISPs and webmail services of NL, BE and SE). Any other domain is
  taken for a company's or organisation's own domain. Survivorship prefers a consumer address
  for B2C mailings.
- `TYPO_TARGET_DOMAINS`: the provider domains a misspelling is measured against (a subset: short
  names such as `me.com` or `web.de` are one edit away from too many real domains).
- `DOMAIN_CORRECTIONS`: misspellings too far for the edit rule but certain all the same, mostly
  the wrong top-level domain of a provider that only mails from one (`ziggo.com` -> `ziggo.nl`).
- `CLOSED_MAIL_DOMAINS`: providers that ended their mail service, or ended it for all but a
  shrinking group of old customers, so that an address there is unlikely to reach anyone today.
  An address at such a domain keeps its value (it still identifies a person for matching) but is
  never the address to mail. What we know of each, as far as public announcements go (none was
  checked against live mail servers here; operators extend or trim the list in `sources.yaml`
  with `defaults.closed_mail_domains` and `defaults.open_mail_domains`):

  closed for good, users had to move:
    wanadoo.nl (Orange/Wanadoo NL, customers moved off around 2012), zonnet.nl, versatel.nl and
    tele2.nl (Tele2 NL stopped its mail service), freeler.nl, hccnet.nl, tiscali.nl (taken over
    and migrated), swipnet.se (old Tele2 SE), passagen.se (Passagen ended its webmail),
    spray.se, home.se, tninet.se, telenordia.se;
  legacy domains no longer given out, mailboxes of long-time customers may still be served:
    hetnet.nl, planet.nl (KPN), chello.nl, quicknet.nl (Ziggo), pandora.be (Telenet),
    skynet.be (Proximus). They are listed because a record that still carries one is usually an
    old record of someone who moved on; an operator whose customers still read them there
    lists them under `open_mail_domains`.
"""

from __future__ import annotations

from collections.abc import Iterable

TYPO_TARGET_DOMAINS = frozenset(
    """gmail.com googlemail.com hotmail.com hotmail.nl hotmail.be hotmail.se hotmail.fr hotmail.de
    hotmail.co.uk outlook.com outlook.nl outlook.be outlook.se live.com live.nl live.be live.se
    live.fr live.de msn.com icloud.com me.com mac.com yahoo.com yahoo.fr yahoo.se yahoo.de
    yahoo.co.uk ymail.com aol.com protonmail.com proton.me gmx.com gmx.de gmx.net web.de
    t-online.de orange.fr free.fr ziggo.nl kpnmail.nl kpnplanet.nl planet.nl home.nl xs4all.nl
    hetnet.nl chello.nl upcmail.nl casema.nl quicknet.nl zeelandnet.nl caiway.nl solcon.nl tele2.nl
    online.nl telfort.nl versatel.nl hccnet.nl freeler.nl telenet.be skynet.be proximus.be
    pandora.be scarlet.be base.be telia.com telia.se bredband.net spray.se comhem.se bahnhof.se
    tele2.se glocalnet.net passagen.se bredband2.com""".split()
)

CONSUMER_MAIL_DOMAINS = TYPO_TARGET_DOMAINS | frozenset(
    """outlook.de outlook.fr hotmail.it hotmail.es live.co.uk live.nl msn.nl windowslive.com
    yahoo.nl yahoo.be yahoo.es yahoo.it rocketmail.com aim.com pm.me protonmail.ch tutanota.com
    tuta.io fastmail.com hey.com zoho.com mail.com email.com gmx.at gmx.ch gmx.fr gmx.nl
    yandex.com yandex.ru mail.ru laposte.net wanadoo.fr sfr.fr neuf.fr club-internet.fr
    zonnet.nl wanadoo.nl tiscali.nl lycos.nl kpnplanet.nl zeelandnet.nl delta.nl
    onsbrabantnet.nl kabelfoon.nl upc.nl hahah.nl multiweb.nl introweb.nl chello.be belgacom.net
    voo.be tvcablenet.be numericable.be swing.be busmail.net swipnet.se home.se tninet.se
    telenordia.se telenor.se ownit.se chello.se tiscali.se hem.utfors.se bostream.nu
    live.se msn.se""".split()
)

DOMAIN_CORRECTIONS: dict[str, str] = {
    # Providers that only mail from one top-level domain.
    "ziggo.com": "ziggo.nl",
    "ziggo.be": "ziggo.nl",
    "ziggo.nl.nl": "ziggo.nl",
    "kpnmail.com": "kpnmail.nl",
    "kpnplanet.com": "kpnplanet.nl",
    "xs4all.com": "xs4all.nl",
    "upcmail.com": "upcmail.nl",
    "casema.com": "casema.nl",
    "zeelandnet.com": "zeelandnet.nl",
    "telenet.com": "telenet.be",
    "telenet.nl": "telenet.be",
    "gmail.nl": "gmail.com",
    "gmail.be": "gmail.com",
    "gmail.se": "gmail.com",
    "gmail.com.com": "gmail.com",
    "hotmail.com.com": "hotmail.com",
    "gmail.com.nl": "gmail.com",
    "googlemail.nl": "googlemail.com",
    # Misspellings too short or too far for the one-edit rule.
    "gmal.com": "gmail.com",
    "gmil.com": "gmail.com",
    "gmaill.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gnail.com": "gmail.com",
    "gmali.com": "gmail.com",
    "gmaik.com": "gmail.com",
    "gmail.cim": "gmail.com",
    "hotmai.com": "hotmail.com",
    "hotmal.com": "hotmail.com",
    "hotmial.com": "hotmail.com",
    "hotamil.com": "hotmail.com",
    "hotmil.com": "hotmail.com",
    "homail.com": "hotmail.com",
    "hotmail.cmo": "hotmail.com",
    "hotmai.nl": "hotmail.nl",
    "hotmal.nl": "hotmail.nl",
    "outlok.com": "outlook.com",
    "outloo.com": "outlook.com",
    "outlool.com": "outlook.com",
    "iclould.com": "icloud.com",
    "icoud.com": "icloud.com",
    "yaho.com": "yahoo.com",
    "telia.ce": "telia.se",
    "telai.se": "telia.se",
    "tela.se": "telia.se",
    "telia.sw": "telia.se",
    "teila.se": "telia.se",
    "telia.coom": "telia.com",
    "tellia.com": "telia.com",
}

CLOSED_MAIL_DOMAINS = frozenset(
    """wanadoo.nl zonnet.nl versatel.nl tele2.nl freeler.nl hccnet.nl tiscali.nl swipnet.se
    passagen.se spray.se home.se tninet.se telenordia.se hetnet.nl planet.nl chello.nl quicknet.nl
    pandora.be skynet.be""".split()
)


def closed_mail_domains(extra: Iterable[str] = (), open_: Iterable[str] = ()) -> frozenset[str]:
    """The shipped closed list, plus the operator's `extra` domains, minus those they keep
    `open_`."""

    def norm(domains: Iterable[str]) -> set[str]:
        return {d.strip().lower().removeprefix("@") for d in domains if d and d.strip()}

    return frozenset((set(CLOSED_MAIL_DOMAINS) | norm(extra)) - norm(open_))


def is_consumer_domain(domain: str) -> bool:
    """True for a private mailbox provider (`gmail.com`, `ziggo.nl`, `telia.com`), False for any
    other domain, which is taken to be a company's own (`bakkerij-dejong.nl`)."""
    return domain in CONSUMER_MAIL_DOMAINS


def consumer_domain_sql(domain_expr: str) -> str:
    """SQL of `is_consumer_domain` (for a small table of distinct domains)."""
    from pipelines.normalize.text import list_sql

    return f"list_contains({list_sql(sorted(CONSUMER_MAIL_DOMAINS))}, {domain_expr})"
