"""Value pools: names, streets, cities and e-mail domains per language group, built once.

Faker (nl_NL, nl_BE, fr_BE, sv_SE) draws a few thousand values per group, seeded; rows then
sample the pools by index, vectorised, with no Faker call per row. Drawing with repeats keeps
Faker's name frequencies, so common names stay common. Every name entry carries its variants
(nicknames, initial, two typos, ASCII form for e-mail addresses) so that dirt is a lookup.

French-speaking Belgium gets fr_BE names; Faker has no fr_BE streets, so those are French street
patterns around fr_BE surnames ("Rue Navez") plus classics ("Rue de la Loi").
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyarrow as pa
from faker import Faker

from pipelines.normalize.places import canonical_place

# Language groups: every household belongs to one. Country is derived from the group.
GROUPS: tuple[str, ...] = ("NL", "BE-nl", "BE-fr", "SE")
GROUP_SHARE: tuple[float, ...] = (0.60, 0.15, 0.10, 0.15)
COUNTRIES: tuple[str, ...] = ("NL", "BE", "SE")
GROUP_COUNTRY: np.ndarray = np.array([0, 1, 1, 2], dtype=np.int8)  # index into COUNTRIES
_LOCALE = {"NL": "nl_NL", "BE-nl": "nl_BE", "BE-fr": "fr_BE", "SE": "sv_SE"}
_COUNTRY_LOCALE = {"NL": "nl_NL", "BE": "nl_BE", "SE": "sv_SE"}

FIRST_NAME_DRAWS = 2500  # per group and gender
LAST_NAME_DRAWS = 3000  # per group
STREET_DRAWS = 2500  # per group
CITY_DRAWS = 600  # per country
FORMAL_NAME_SHARE = 0.15  # people named from the nickname table (Johannes, Cornelis, Lars...)

# Dutch tussenvoegsels that Faker's nl_NL surnames start with, plus extra surnames that make
# sure the rarer infixes appear.
INFIX_WORDS = frozenset(
    {"van", "de", "der", "den", "het", "'t", "ter", "ten", "te", "in", "op", "la", "le"}
)
EXTRA_NL_SURNAMES: tuple[tuple[str, str], ...] = (
    ("de", "Vries"),
    ("van der", "Berg"),
    ("van den", "Broek"),
    ("van", "Dijk"),
    ("de", "Jong"),
    ("ter", "Horst"),
    ("'t", "Hart"),
    ("de la", "Rie"),
    ("van 't", "Hof"),
    ("in 't", "Veld"),
    ("ten", "Cate"),
    ("op den", "Kamp"),
    ("van de", "Ven"),
    ("den", "Uyl"),
    ("te", "Riele"),
    ("van der", "Linden"),
    ("de la", "Court"),
    ("van der", "Meer"),
    ("ter", "Beek"),
    ("'t", "Hooft"),
)

# Formal first names and the call names people use instead (in one source, or on a duplicate).
NICKNAMES: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("NL", "M"): {
        "Johannes": ("Hans", "Jan", "Johan"),
        "Cornelis": ("Kees", "Cor"),
        "Jacobus": ("Koos", "Jaap"),
        "Hendrik": ("Henk", "Henny"),
        "Wilhelmus": ("Wim", "Willem"),
        "Petrus": ("Piet", "Peter"),
        "Gerardus": ("Gerard", "Gert"),
        "Adrianus": ("Adrie", "Arie"),
        "Theodorus": ("Theo", "Ruud"),
        "Franciscus": ("Frans", "Frank"),
        "Antonius": ("Toon", "Ton"),
        "Nicolaas": ("Klaas", "Niek"),
        "Hubertus": ("Huub", "Bert"),
        "William": ("Bill", "Will"),
        "Robert": ("Bob", "Rob"),
    },
    ("NL", "F"): {
        "Johanna": ("Anneke", "Hanneke", "Jo"),
        "Cornelia": ("Corrie", "Nel"),
        "Elisabeth": ("Lies", "Els", "Betty"),
        "Catharina": ("Toos", "Tineke", "Karin"),
        "Margaretha": ("Greet", "Margriet"),
        "Wilhelmina": ("Mien", "Wilma"),
        "Maria": ("Marie", "Ria"),
        "Petronella": ("Nel", "Ellie"),
        "Geertruida": ("Truus", "Trudy"),
        "Jacoba": ("Coby", "Co"),
        "Elizabeth": ("Liz", "Betty"),
    },
    ("BE-nl", "M"): {
        "Jozef": ("Jef", "Jos"),
        "Franciscus": ("Frans", "Sus"),
        "Ludovicus": ("Lode", "Louis"),
        "Petrus": ("Piet", "Pieter"),
        "Wilhelmus": ("Wim",),
        "Alexander": ("Alex", "Sander"),
        "Nicolaas": ("Klaas", "Nico"),
        "William": ("Bill",),
        "Johannes": ("Jan", "Hans"),
    },
    ("BE-nl", "F"): {
        "Maria": ("Mia", "Marieke"),
        "Elisabeth": ("Els", "Liesbeth"),
        "Josephina": ("Fien", "José"),
        "Catharina": ("Katrien", "Trien"),
        "Margaretha": ("Griet", "Greet"),
        "Isabelle": ("Isa", "Belle"),
    },
    ("BE-fr", "M"): {
        "Philippe": ("Phil",),
        "Guillaume": ("Guy",),
        "Alexandre": ("Alex",),
        "Nicolas": ("Nico",),
        "Frédéric": ("Fred",),
        "Christophe": ("Chris",),
        "William": ("Bill",),
    },
    ("BE-fr", "F"): {
        "Isabelle": ("Isa", "Belle"),
        "Catherine": ("Cathy",),
        "Véronique": ("Véro",),
        "Dominique": ("Domi",),
        "Elisabeth": ("Babette", "Lisa"),
        "Marie-Christine": ("Marie",),
    },
    ("SE", "M"): {
        "Lars": ("Lasse",),
        "Karl": ("Kalle",),
        "Nils": ("Nisse",),
        "Johan": ("Janne",),
        "Hans": ("Hasse",),
        "Per": ("Pelle",),
        "Mikael": ("Micke",),
        "Stefan": ("Steffe",),
        "Anders": ("Acke",),
        "Kristoffer": ("Krille",),
        "Magnus": ("Manne",),
        "Robert": ("Robban",),
        "William": ("Bill", "Wille"),
    },
    ("SE", "F"): {
        "Elisabet": ("Lisa", "Elsa"),
        "Margareta": ("Maggan", "Greta"),
        "Katarina": ("Kajsa", "Karin"),
        "Kristina": ("Stina", "Kicki"),
        "Birgitta": ("Gittan", "Britt"),
        "Johanna": ("Hanna",),
        "Barbro": ("Bibbi",),
    },
}
MAX_NICKNAMES = 3

# Hard negative: many different people with the same very common name, one per group.
NAMESAKES: dict[
    str, tuple[str, str, str, str]
] = {  # group -> (first name, gender, infix, last name)
    "NL": ("Jan", "M", "de", "Vries"),
    "BE-nl": ("Marc", "M", "", "Peeters"),
    "BE-fr": ("Jean", "M", "", "Dubois"),
    "SE": ("Anna", "F", "", "Andersson"),
}

FR_STREET_TYPES = ("Rue", "Rue", "Rue", "Avenue", "Place", "Boulevard", "Chaussée")
FR_CLASSIC_STREETS = (
    "Rue de la Loi",
    "Rue du Marché",
    "Rue de l'Église",
    "Rue de la Station",
    "Rue du Moulin",
    "Chaussée de Wavre",
    "Chaussée de Louvain",
    "Avenue Louise",
    "Rue Haute",
    "Rue Neuve",
    "Rue de la Gare",
    "Rue du Château",
    "Place Saint-Lambert",
    "Rue des Écoles",
    "Rue du Centre",
    "Avenue de la Couronne",
    "Chaussée de Charleroi",
    "Rue des Champs",
    "Rue de Namur",
    "Rue Royale",
)

# Classic Dutch street names, found in every town (Kerkstraat, Marktplein, Dorpslaan, ...).
NL_CLASSIC_STREETS = (
    "Kerkstraat",
    "Dorpsstraat",
    "Schoolstraat",
    "Molenstraat",
    "Nieuwstraat",
    "Stationsstraat",
    "Marktplein",
    "Kerkplein",
    "Stationsplein",
    "Dorpslaan",
    "Julianalaan",
    "Beatrixlaan",
    "Molenweg",
    "Kerkweg",
    "Raadhuisplein",
)
NL_CLASSIC_SHARE = 0.2

# Where people have their address today. Closed providers (below) are only where they had it.
EMAIL_DOMAINS: dict[str, tuple[tuple[str, int], ...]] = {
    "NL": (
        ("gmail.com", 30),
        ("hotmail.com", 14),
        ("outlook.com", 9),
        ("ziggo.nl", 10),
        ("kpnmail.nl", 8),
        ("live.nl", 5),
        ("icloud.com", 5),
        ("yahoo.com", 3),
        ("xs4all.nl", 3),
        ("home.nl", 2),
    ),
    "BE": (
        ("gmail.com", 35),
        ("hotmail.com", 12),
        ("telenet.be", 15),
        ("outlook.com", 8),
        ("proximus.be", 8),
        ("yahoo.fr", 4),
        ("icloud.com", 4),
        ("live.be", 4),
    ),
    "SE": (
        ("gmail.com", 35),
        ("hotmail.com", 12),
        ("telia.com", 12),
        ("outlook.com", 10),
        ("live.se", 6),
        ("icloud.com", 6),
        ("yahoo.se", 4),
        ("bredband.net", 3),
        ("spray.se", 2),
    ),
}
# Mail providers that closed (their addresses bounce): people had an address there years ago.
CLOSED_PROVIDERS: dict[str, tuple[tuple[str, int], ...]] = {
    "NL": (
        ("hetnet.nl", 25),
        ("planet.nl", 25),
        ("zonnet.nl", 12),
        ("chello.nl", 12),
        ("wanadoo.nl", 10),
        ("tiscali.nl", 8),
        ("quicknet.nl", 8),
    ),
    "BE": (("skynet.be", 60), ("pandora.be", 40)),
    "SE": (("swipnet.se", 55), ("passagen.se", 45)),
}
# Misspellings so common that a normalizer knows them (the truth counts them as recoverable).
KNOWN_DOMAIN_TYPOS: dict[str, str] = {
    "gmial.com": "gmail.com",
    "gmail.con": "gmail.com",
    "hotmial.com": "hotmail.com",
    "ziggo.com": "ziggo.nl",
}
# Typical misspellings users type; other domains get generated typos.
DOMAIN_TYPOS: dict[str, tuple[str, str]] = {
    "gmail.com": ("gmial.com", "gmail.con"),
    "hotmail.com": ("hotmial.com", "hotmail.cm"),
    "outlook.com": ("outlok.com", "outlook.co"),
    "ziggo.nl": ("ziggo.com", "zigo.nl"),
    "telenet.be": ("telnet.be", "telenet.bee"),
    "telia.com": ("tella.com", "telia.cm"),
}

# Work mailboxes: shared role addresses (info@) and a person's own address at the employer.
ROLE_MAILBOXES: dict[str, tuple[str, ...]] = {
    "NL": ("info", "sales", "verkoop", "administratie", "contact", "receptie"),
    "BE": ("info", "sales", "verkoop", "contact", "boekhouding", "accueil"),
    "SE": ("info", "sales", "kontakt", "order", "kundtjanst"),
}
COMPANY_DRAWS = 300  # per country
COMPANY_TLD = {"NL": "nl", "BE": "be", "SE": "se"}
_LEGAL_FORMS = frozenset(
    {"bv", "nv", "vof", "commv", "bvba", "sprl", "sa", "ab", "hb", "kb", "en", "and", "et", "och"}
)

# Belgian surnames with a particle, kept whole in last_name ("Van Tournay"), with extra weight so
# that the particle forms are common enough to measure.
EXTRA_BE_SURNAMES: dict[str, tuple[str, ...]] = {
    "BE-nl": (
        "Van Tournay",
        "De Backer",
        "Vanden Bossche",
        "Van Damme",
        "De Smet",
        "Van de Velde",
        "Van den Broeck",
        "Vander Elst",
        "De Clercq",
        "Van Acker",
        "Vanden Berghe",
        "De Wilde",
    ),
    "BE-fr": ("Van Hove", "De Coster", "Le Jeune", "Du Bois", "De Lannoy", "Van Roy"),
}
BE_PARTICLES = frozenset(
    {"van", "vanden", "vander", "vande", "de", "den", "der", "le", "la", "du", "d'"}
)

# Big cities (drawn more often) and the other names people write for them; cities with
# diacritics are also written without (Goteborg for Göteborg).
BIG_CITIES: dict[str, tuple[str, ...]] = {
    "NL": (),
    "BE": ("Gent", "Antwerpen", "Mechelen", "Liège", "Brugge", "Leuven", "Namur", "Mons"),
    "SE": (
        "Göteborg",
        "Malmö",
        "Jönköping",
        "Lidingö",
        "Västerås",
        "Norrköping",
        "Linköping",
        "Umeå",
    ),
}
BIG_CITY_ENTRIES = 6  # pool entries per big city (each with its own postcode area)
CITY_VARIANTS: dict[str, tuple[str, ...]] = {
    "Gent": ("Gand", "Ghent"),
    "Antwerpen": ("Anvers", "Antwerp"),
    "Mechelen": ("Malines",),
    "Liège": ("Luik", "Luik"),
    "Brugge": ("Bruges",),
    "Leuven": ("Louvain",),
    "Namur": ("Namen",),
    "Mons": ("Bergen",),
    "Göteborg": ("Goteborg", "Gothenburg"),
}

# Street-name endings and their abbreviations (Kerkstraat -> Kerkstr., Storgatan -> Storg.).
STREET_ABBREVIATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("straat", ("str.", "str.", "str")),
    ("laan", ("ln.",)),
    ("plein", ("pl.",)),
    ("weg", ("wg.",)),
    ("boulevard", ("blvd.",)),
    ("gatan", ("g.",)),
    ("vägen", ("v.",)),
)

_QWERTY_NEIGHBOURS = {
    "a": "qsz",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "q": "wa",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "x": "zc",
    "y": "tu",
    "z": "xa",
}


@dataclass(frozen=True)
class Segments:
    """Several groups' values in one flat array: group g owns [start[g], start[g] + size[g])."""

    start: np.ndarray
    size: np.ndarray

    @classmethod
    def of(cls, sizes: list[int]) -> Segments:
        size = np.asarray(sizes, dtype=np.int64)
        return cls(start=np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64), size=size)

    def index(self, group: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Flat index of a uniform pick (u in [0, 1)) inside each element's group."""
        return self.start[group] + (u * self.size[group]).astype(np.int64)


@dataclass(frozen=True)
class FirstNames:
    """First names per (group, gender) segment (segment = group * 2 + gender, gender 0 = M)."""

    segments: Segments
    name: pa.Array
    ascii: pa.Array  # lower-case ASCII for e-mail local parts
    initial: pa.Array  # "J."
    nicknames: tuple[pa.Array, ...]  # MAX_NICKNAMES columns, "" where absent
    nickname_count: np.ndarray
    typos: tuple[pa.Array, pa.Array]
    namesake: np.ndarray  # flat index of the group's namesake first name
    mojibake: pa.Array  # UTF-8 read as cp1252 ("ZoÃ«"); "" where the name is plain ASCII
    plain: pa.Array  # diacritics stripped, case kept ("Zoe"); "" where there are none


@dataclass(frozen=True)
class LastNames:
    """Surnames per group; `infix` is the Dutch tussenvoegsel ("" when none)."""

    segments: Segments
    infix: pa.Array
    last: pa.Array
    full: pa.Array  # infix + " " + last, as a webshop stores it
    ascii_full: pa.Array
    ascii_last: pa.Array
    typos: tuple[pa.Array, pa.Array]  # typos of `last`
    has_infix: np.ndarray
    namesake: np.ndarray  # flat index of the group's namesake surname
    mojibake: pa.Array  # of `last`; "" where plain ASCII
    plain: pa.Array  # `last` without diacritics; "" where there are none
    short_infix: pa.Array  # "v.d." for van de/der/den, "v." for van; "" otherwise
    be_particle: (
        pa.Array
    )  # Belgian particle as a Dutch CRM splits it off ("Van" of "Van Tournay"); "" if none
    be_rest: pa.Array  # the rest ("Tournay")
    has_be_particle: np.ndarray


@dataclass(frozen=True)
class Localities:
    """Cities per country with their postcode area (NL 4 digits, BE 4 digits, SE 3-digit
    prefix)."""

    segments: Segments
    city: pa.Array
    postcode_area: np.ndarray
    variant: pa.Array  # another name people write (Gand, Goteborg); "" when none
    mojibake: pa.Array  # "" where plain ASCII


@dataclass(frozen=True)
class Domains:
    """E-mail domains per country, repeated by weight so a uniform pick is a weighted pick."""

    segments: Segments
    domain: pa.Array
    typos: tuple[pa.Array, pa.Array]
    known_typo: tuple[np.ndarray, np.ndarray]  # the typo is one a normalizer knows (gmial.com)
    closed: pa.Array  # closed providers per country, repeated by weight
    closed_segments: Segments


@dataclass(frozen=True)
class Companies:
    """Employers' mail domains per country (shared by unrelated people) and role mailboxes."""

    segments: Segments
    domain: pa.Array
    role_segments: Segments
    role: pa.Array


@dataclass(frozen=True)
class Pools:
    first: FirstNames
    last: LastNames
    streets: pa.Array
    street_segments: Segments  # per group
    localities: Localities
    domains: Domains
    street_short: pa.Array  # per street: abbreviated form ("Kerkstr."), "" when none
    street_mojibake: pa.Array  # per street: "" where plain ASCII
    companies: Companies


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters and digits only: 'Daniël' -> 'daniel', "'t Hart" -> 'thart'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return re.sub(
        r"[^a-z0-9]", "", "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    )


def mojibake(text: str) -> str:
    """UTF-8 bytes read as cp1252 ('Sjöberg' -> 'SjÃ¶berg'); '' when plain ASCII or not
    representable."""
    if text.isascii():
        return ""
    try:
        garbled = text.encode("utf-8").decode("cp1252")
    except UnicodeDecodeError:
        return ""
    return garbled if _encodable(garbled) else ""


def strip_marks(text: str) -> str:
    """Diacritics removed, case kept ('Zoë' -> 'Zoe'); '' when there are none."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    plain = unicodedata.normalize("NFC", plain)
    return plain if plain != text else ""


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: drop, double, swap or hit a neighbouring key. Never the word itself."""
    if len(word) < 3:
        return word + word[-1]
    for _ in range(10):
        i = rng.randrange(1, len(word))
        kind = rng.randrange(4)
        if kind == 0:
            out = word[:i] + word[i + 1 :]
        elif kind == 1:
            out = word[:i] + word[i] + word[i:]
        elif kind == 2 and i < len(word) - 1:
            out = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        else:
            near = _QWERTY_NEIGHBOURS.get(word[i].lower(), "")
            out = word[:i] + rng.choice(near) + word[i + 1 :] if near else word[:i] + word[i + 1 :]
        if out != word and len(out) >= 2:
            return out
    return word + word[-1]


def _encodable(value: str) -> bool:
    """Kept only if the cp1252 CRM file can hold it and it needs no CSV quoting."""
    try:
        value.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return bool(value.strip()) and not any(c in value for c in ';,"\r\n')


def _draw(fake_method, n: int) -> list[str]:
    return [v for v in (fake_method() for _ in range(n)) if _encodable(v)]


def _split_dutch_surname(name: str) -> tuple[str, str] | None:
    """'van der Heijden' -> ('van der', 'Heijden'); None for names that are not infix + one
    word."""
    words = name.split()
    if not words or any(w not in INFIX_WORDS for w in words[:-1]) or not words[-1][:1].isupper():
        return None
    return " ".join(words[:-1]), words[-1]


def _first_names(fakers: dict[str, Faker], rng: random.Random) -> FirstNames:
    names: list[str] = []
    sizes: list[int] = []
    namesake_index = np.zeros(len(GROUPS), dtype=np.int64)
    for g, group in enumerate(GROUPS):
        for gender in ("M", "F"):
            fake = fakers[group]
            drawn = _draw(
                fake.first_name_male if gender == "M" else fake.first_name_female, FIRST_NAME_DRAWS
            )
            drawn = [n for n in drawn if " " not in n]
            formal = list(NICKNAMES.get((group, gender), {}))
            repeats = int(
                round(
                    FORMAL_NAME_SHARE / (1 - FORMAL_NAME_SHARE) * len(drawn) / max(len(formal), 1)
                )
            )
            segment = drawn + formal * repeats
            first_name, namesake_gender = NAMESAKES[group][0], NAMESAKES[group][1]
            if gender == namesake_gender:
                namesake_index[g] = len(names) + len(segment)
                segment.append(first_name)
            names.extend(segment)
            sizes.append(len(segment))
    nick_columns: list[list[str]] = [[] for _ in range(MAX_NICKNAMES)]
    nick_count = np.zeros(len(names), dtype=np.int64)
    all_nicks = {formal: nicks for table in NICKNAMES.values() for formal, nicks in table.items()}
    for i, name in enumerate(names):
        nicks = all_nicks.get(name, ())
        nick_count[i] = len(nicks)
        for k in range(MAX_NICKNAMES):
            nick_columns[k].append(nicks[k] if k < len(nicks) else "")
    return FirstNames(
        segments=Segments.of(sizes),
        name=pa.array(names),
        ascii=pa.array([ascii_fold(n) or "x" for n in names]),
        initial=pa.array([n[0].upper() + "." for n in names]),
        nicknames=tuple(pa.array(c) for c in nick_columns),
        nickname_count=nick_count,
        typos=(pa.array([typo(n, rng) for n in names]), pa.array([typo(n, rng) for n in names])),
        namesake=namesake_index,
        mojibake=pa.array([mojibake(n) for n in names]),
        plain=pa.array([strip_marks(n) for n in names]),
    )


def _short_infix(infix: str) -> str:
    return {"van de": "v.d.", "van der": "v.d.", "van den": "v.d.", "van": "v."}.get(infix, "")


def _be_split(name: str) -> tuple[str, str]:
    """'Vanden Bossche' -> ('Vanden', 'Bossche'); ('', '') when the name has no leading
    particle."""
    head, _, rest = name.partition(" ")
    return (head, rest) if rest and head.lower() in BE_PARTICLES else ("", "")


def _last_names(fakers: dict[str, Faker], rng: random.Random) -> LastNames:
    pairs: list[tuple[str, str]] = []
    sizes: list[int] = []
    namesake_index = np.zeros(len(GROUPS), dtype=np.int64)
    for g, group in enumerate(GROUPS):
        drawn = _draw(fakers[group].last_name, LAST_NAME_DRAWS)
        if group == "NL":
            segment = [p for p in map(_split_dutch_surname, drawn) if p is not None]
            segment += list(EXTRA_NL_SURNAMES) * 3
        else:  # Belgian "Van Damme", "De Smet": the particle is part of the surname
            segment = [("", n) for n in drawn] + [
                ("", n) for n in EXTRA_BE_SURNAMES.get(group, ())
            ] * 8
        _, _, infix, last = NAMESAKES[group]
        namesake_index[g] = len(pairs) + len(segment)
        segment.append((infix, last))
        pairs.extend(segment)
        sizes.append(len(segment))
    infixes = [i for i, _ in pairs]
    lasts = [n for _, n in pairs]
    fulls = [f"{i} {n}" if i else n for i, n in pairs]
    return LastNames(
        segments=Segments.of(sizes),
        infix=pa.array(infixes),
        last=pa.array(lasts),
        full=pa.array(fulls),
        ascii_full=pa.array([ascii_fold(f) or "x" for f in fulls]),
        ascii_last=pa.array([ascii_fold(n) or "x" for n in lasts]),
        typos=(pa.array([typo(n, rng) for n in lasts]), pa.array([typo(n, rng) for n in lasts])),
        has_infix=np.array([bool(i) for i in infixes]),
        namesake=namesake_index,
        mojibake=pa.array([mojibake(n) for n in lasts]),
        plain=pa.array([strip_marks(n) for n in lasts]),
        short_infix=pa.array([_short_infix(i) for i in infixes]),
        be_particle=pa.array([_be_split(n)[0] for n in lasts]),
        be_rest=pa.array([_be_split(n)[1] for n in lasts]),
        has_be_particle=np.array([bool(_be_split(n)[0]) for n in lasts]),
    )


def _streets(fakers: dict[str, Faker], rng: random.Random) -> tuple[pa.Array, Segments]:
    streets: list[str] = []
    sizes: list[int] = []
    for group in GROUPS:
        if group == "BE-fr":
            surnames = _draw(fakers[group].last_name, STREET_DRAWS)
            segment = [
                rng.choice(FR_CLASSIC_STREETS)
                if rng.random() < 0.3
                else f"{rng.choice(FR_STREET_TYPES)} {s}"
                for s in surnames
            ]
        else:
            segment = _draw(fakers[group].street_name, STREET_DRAWS)
            if group in ("NL", "BE-nl"):
                segment = [
                    rng.choice(NL_CLASSIC_STREETS) if rng.random() < NL_CLASSIC_SHARE else s
                    for s in segment
                ]
        streets.extend(segment)
        sizes.append(len(segment))
    return pa.array(streets), Segments.of(sizes)


def _street_short(street: str, rng: random.Random) -> str:
    for ending, forms in STREET_ABBREVIATIONS:
        if street.endswith(ending) and len(street) > len(ending) + 2:
            return street[: -len(ending)] + rng.choice(forms)
    return ""


def _localities(seed: int, rng: random.Random) -> Localities:
    cities: list[str] = []
    areas: list[int] = []
    sizes: list[int] = []
    for country in COUNTRIES:
        fake = Faker(_COUNTRY_LOCALE[country])
        fake.seed_instance(seed)
        big = BIG_CITIES[country]
        drawn = _draw(fake.city, CITY_DRAWS)
        if country == "BE":  # nl_BE writes Walloon towns by their Dutch names (Waver: Wavre)
            drawn = [canonical_place(c, "BE", "as_written") or c for c in drawn]
        unique = [c for c in dict.fromkeys(drawn) if c not in big]
        unique += [c for c in big for _ in range(BIG_CITY_ENTRIES)]
        low, high = (100, 989) if country == "SE" else (1000, 9999)
        cities.extend(unique)
        areas.extend(rng.randint(low, high) for _ in unique)
        sizes.append(len(unique))
    variants = [
        rng.choice(CITY_VARIANTS[c]) if c in CITY_VARIANTS else strip_marks(c) for c in cities
    ]
    return Localities(
        segments=Segments.of(sizes),
        city=pa.array(cities),
        postcode_area=np.array(areas, dtype=np.int64),
        variant=pa.array(variants),
        mojibake=pa.array([mojibake(c) for c in cities]),
    )


def _companies(seed: int) -> Companies:
    domains: list[str] = []
    sizes: list[int] = []
    for country in COUNTRIES:
        fake = Faker(_COUNTRY_LOCALE[country])
        fake.seed_instance(seed + 1)
        found: dict[str, None] = {}
        for _ in range(COMPANY_DRAWS):
            words = [ascii_fold(w) for w in re.split(r"[\s,&-]+", fake.company())]
            words = [w for w in words if w and w not in _LEGAL_FORMS][:2]
            if words:
                found["-".join(words) + "." + COMPANY_TLD[country]] = None
        domains.extend(found)
        sizes.append(len(found))
    roles = [r for c in COUNTRIES for r in ROLE_MAILBOXES[c]]
    return Companies(
        segments=Segments.of(sizes),
        domain=pa.array(domains),
        role_segments=Segments.of([len(ROLE_MAILBOXES[c]) for c in COUNTRIES]),
        role=pa.array(roles),
    )


def _domains(rng: random.Random) -> Domains:
    domains: list[str] = []
    sizes: list[int] = []
    for country in COUNTRIES:
        segment = [d for d, weight in EMAIL_DOMAINS[country] for _ in range(weight)]
        domains.extend(segment)
        sizes.append(len(segment))
    typo_pairs = {}
    for domain in dict.fromkeys(domains):
        label, _, tld = domain.partition(".")
        typo_pairs[domain] = DOMAIN_TYPOS.get(domain) or (
            f"{typo(label, rng)}.{tld}",
            f"{typo(label, rng)}.{tld}",
        )
    closed = [d for c in COUNTRIES for d, weight in CLOSED_PROVIDERS[c] for _ in range(weight)]
    closed_sizes = [sum(w for _, w in CLOSED_PROVIDERS[c]) for c in COUNTRIES]
    return Domains(
        segments=Segments.of(sizes),
        domain=pa.array(domains),
        typos=(
            pa.array([typo_pairs[d][0] for d in domains]),
            pa.array([typo_pairs[d][1] for d in domains]),
        ),
        known_typo=tuple(
            np.array([typo_pairs[d][k] in KNOWN_DOMAIN_TYPOS for d in domains]) for k in (0, 1)
        ),
        closed=pa.array(closed),
        closed_segments=Segments.of(closed_sizes),
    )


@lru_cache(maxsize=4)
def build_pools(seed: int) -> Pools:
    """All pools for a seed; the same seed always gives the same pools (cached per process)."""
    rng = random.Random(seed)
    fakers = {}
    for group, locale in _LOCALE.items():
        fake = Faker(locale)
        fake.seed_instance(seed)
        fakers[group] = fake
    streets, street_segments = _streets(fakers, rng)
    return Pools(
        first=_first_names(fakers, rng),
        last=_last_names(fakers, rng),
        streets=streets,
        street_segments=street_segments,
        localities=_localities(seed, rng),
        domains=_domains(rng),
        street_short=pa.array([_street_short(t, rng) for t in streets.to_pylist()]),
        street_mojibake=pa.array([mojibake(t) for t in streets.to_pylist()]),
        companies=_companies(seed),
    )
