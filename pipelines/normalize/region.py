"""Which country a row lives in, when the file does not say: evidence from the other fields.

The `country` column keeps what the file said; when the file left it empty (missing) and the
row carries evidence, the country is *inferred* (status `inferred`, the reason names the
evidence), first match wins:

1. the postcode's country prefix (`B-1000`, `S-123 45`, `NL-1234AB`): `from_postcode_prefix`;
2. a postcode shape only the Netherlands uses (`1234 AB`), `from_postcode`;
3. a city that belongs to one country (`CITY_COUNTRIES`: the main places of NL, BE and SE,
   with their other-language names, `Anvers`, `Gothenburg`; names two countries share, such as
   Hasselt or Bergen, are left out): `from_city`;
4. the Swedish shape `123 45` (three digits, a space, two digits): `from_postcode`;
5. the calling code of a phone number written internationally (`+32 ...`, `0046 ...`); a number
   written nationally says nothing, it is read in the country found so far: `from_phone`;
6. a postcode, or a phone number written nationally, that is valid in the source's default
   country, where both were read (Belgian `2000` or `0470 12 34 56` for a Belgian source):
   `from_source_country`. A four-digit postcode alone fits BE, DK, NO, CH and more, so it only
   counts for the country the source already declares.

Rules 1-4 also decide the region a phone number is parsed in (`0470 12 34 56` with the city
Antwerpen is Belgian, even from a Dutch source); postcodes and names are read in the row's
country, else the inferred one, else the source's default (the *place region*).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from pipelines.normalize.postcode import PREFIXES
from pipelines.normalize.text import q


@lru_cache(maxsize=1)
def _prefix_rules() -> tuple[tuple[str, str], ...]:
    """(regex, country): a country prefix followed by a postcode of that country's shape.

    The shape check keeps `E1 6AN` (London) from reading as a Spanish `E-` prefix.
    """
    from pipelines.normalize.postcode import country_rule

    rules = []
    for country, prefixes in PREFIXES.items():
        shapes = [
            m.pattern.removeprefix("^").removesuffix("$") for m in country_rule(country).matchers
        ]
        if not shapes:
            continue
        alternatives = "|".join(sorted(prefixes, key=len, reverse=True))
        rules.append((rf"(?:{alternatives}) ?-? ?(?:{'|'.join(shapes)})", country))
    return tuple(rules)


def postcode_prefix_country(clean: str | None) -> str | None:
    """`B-1000` -> BE, `S-123 45` -> SE, `NL-1234AB` -> NL; None without a country prefix."""
    if not clean:
        return None
    text = clean.upper()
    for pattern, country in _prefix_rules():
        if re.fullmatch(pattern, text):
            return country
    return None


def postcode_prefix_country_sql(clean_expr: str) -> str:
    """SQL of `postcode_prefix_country`. Every prefix starts with a letter, so one cheap test
    skips the patterns for the usual postcode that starts with a digit."""
    whens = " ".join(
        f"WHEN regexp_full_match(upper({clean_expr}), {q(p)}) THEN {q(c)}"
        for p, c in _prefix_rules()
    )
    assert all(p[:1].isalpha() for prefixes in PREFIXES.values() for p in prefixes), (
        "a prefix must start with a letter"
    )
    return f"CASE WHEN NOT regexp_matches({clean_expr}, '^[0-9]') THEN CASE {whens} END END"


@lru_cache(maxsize=1024)
def _main_region(calling_code: int) -> str | None:
    region = phonenumbers.region_code_for_country_code(calling_code)
    return None if region in (None, "ZZ", "001") else region


def phone_country(e164: str | None) -> str | None:
    """The main country of a valid E.164 number's calling code (+32 -> BE, +44 -> GB)."""
    if not e164:
        return None
    digits = e164[1:]
    for n in (1, 2, 3):
        if int(digits[:n]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return _main_region(int(digits[:n]))
    return None


def calling_code_regions_sql() -> str:
    """SQL VALUES of (calling code with its plus sign, main country), e.g. ('+32', 'BE')."""
    rows = []
    for cc in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        region = _main_region(cc)
        if region:
            rows.append(f"({q('+' + str(cc))}, {q(region)})")
    return "VALUES " + ", ".join(rows)


def phone_country_joins_sql(e164_expr: str, alias: str) -> tuple[str, str]:
    """SQL of `phone_country` as three joins on the 1-, 2- and 3-digit prefixes (calling codes are
    prefix-free, so at most one matches): (join clauses, country expression)."""
    joins = " ".join(
        (
            f"LEFT JOIN ({calling_code_regions_sql()}) {alias}{n}(cc, region) "
            f"ON {alias}{n}.cc = {e164_expr}[1:{n + 1}]"
        )
        for n in (1, 2, 3)
    )
    return joins, f"coalesce({alias}1.region, {alias}2.region, {alias}3.region)"


# Postcode shapes that point at one country (RE2 and Python alike, on the upper-cased cleaned
# text).
NL_POSTCODE_SHAPE = "[1-9][0-9]{3} ?[A-Z]{2}"
SE_POSTCODE_SHAPE = "[1-9][0-9]{2} [0-9]{2}"

# Cities (any spelling people write) -> country. Keys are compared by `city_key`.
_CITIES = {
    "NL": """Amsterdam; Rotterdam; Den Haag; 's-Gravenhage; The Hague; Utrecht; Eindhoven;
        Groningen; Tilburg; Almere; Breda; Nijmegen; Apeldoorn; Haarlem; Arnhem; Enschede;
        Amersfoort; Zaanstad; Zaandam; 's-Hertogenbosch; Den Bosch; Hoofddorp; Zwolle; Zoetermeer;
        Leiden; Maastricht; Dordrecht; Ede; Alphen aan den Rijn; Alkmaar; Delft; Deventer; Venlo;
        Sittard; Helmond; Oss; Amstelveen; Hilversum; Heerlen; Leeuwarden; Purmerend; Schiedam;
        Spijkenisse; Roosendaal; Vlaardingen; Almelo; Gouda; Hoorn; Lelystad; Assen;
        Capelle aan den IJssel; Veenendaal; Zeist; Nieuwegein; Katwijk; Hengelo; Den Helder;
        Middelburg; Vlissingen; Harderwijk; Roermond; Doetinchem; Kampen; IJsselstein; IJlst;
        Wageningen; Zutphen; Bergen op Zoom; Goes; Terneuzen; Heerenveen; Drachten; Sneek; Meppel;
        Hoogeveen; Weert; Kerkrade; Geleen; Tiel; Culemborg; Woerden; Rijswijk; Leidschendam;
        Voorburg; Wassenaar; Heemstede; Bussum; Huizen; Barneveld; Nunspeet; Emmeloord""",
    "BE": """Antwerpen; Anvers; Antwerp; Gent; Gand; Ghent; Brugge; Bruges; Brussel; Bruxelles;
        Brussels; Brüssel; Leuven; Louvain; Mechelen; Malines; Aalst; Alost; Kortrijk; Courtrai;
        Sint-Niklaas; Oostende; Ostende; Ostend; Genk; Roeselare; Turnhout; Liège; Luik; Lüttich;
        Charleroi; Namur; Namen; Mons; La Louvière; Tournai; Doornik; Verviers; Seraing; Mouscron;
        Moeskroen; Wavre; Waver; Ottignies; Louvain-la-Neuve; Ixelles; Elsene; Schaerbeek;
        Schaarbeek; Anderlecht; Uccle; Ukkel; Molenbeek; Sint-Jans-Molenbeek; Etterbeek; Vilvoorde;
        Zaventem; Dilbeek; Herentals; Geel; Mol; Beveren; Lokeren; Dendermonde; Termonde; Ninove;
        Ieper; Ypres; Knokke-Heist; Knokke; Waregem; Tienen; Tirlemont; Tongeren; Tongres;
        Sint-Truiden; Lommel; Maasmechelen; Eupen; Arlon; Aarlen; Zelzate; Deinze; Eeklo; Wetteren;
        Zottegem; Oudenaarde; Audenarde; Ronse; Renaix; Diest; Aarschot; Heist-op-den-Berg;
        Brasschaat; Schoten; Mortsel; Kapellen; Boom; Willebroek""",
    "SE": """Stockholm; Göteborg; Gothenburg; Malmö; Uppsala; Västerås; Örebro; Linköping;
        Helsingborg; Jönköping; Norrköping; Lund; Umeå; Gävle; Borås; Södertälje; Eskilstuna;
        Halmstad; Växjö; Karlstad; Sundsvall; Östersund; Trollhättan; Luleå; Lidingö; Solna;
        Sundbyberg; Nacka; Täby; Kalmar; Kristianstad; Skövde; Falun; Varberg; Uddevalla;
        Örnsköldsvik; Norrtälje; Karlskrona; Skellefteå; Huddinge; Järfälla; Sollentuna; Danderyd;
        Mölndal; Kungsbacka; Landskrona; Ystad; Trelleborg; Ängelholm; Visby; Piteå; Kiruna;
        Borlänge; Motala; Nyköping; Katrineholm""",
}


def city_key(text: str | None) -> str | None:
    """Lower case, accents and punctuation gone, single spaces: `'s-Hertogenbosch` ->
    `s hertogenbosch`."""
    from pipelines.normalize.country import country_key
    from pipelines.normalize.text import clean_text

    clean = clean_text(text)
    return country_key(clean) if clean else None


@lru_cache(maxsize=1)
def city_countries() -> dict[str, str]:
    table: dict[str, str] = {}
    for country, names in _CITIES.items():
        for name in names.split(";"):
            key = city_key(name)
            assert key and table.get(key, country) == country, f"{name!r} listed for two countries"
            table[key] = country
    return table


def city_country(raw: str | None) -> str | None:
    """`Antwerpen`, `ANVERS`, `Goteborg` -> BE, BE, SE; None for a city not listed."""
    key = city_key(raw)
    return city_countries().get(key) if key else None


def address_country(
    postcode_clean: str | None, city_raw: str | None
) -> tuple[str | None, str | None]:
    """(country, reason) of rules 1-4 of the module docstring: from the postcode and the city
    alone."""
    prefix = postcode_prefix_country(postcode_clean)
    if prefix:
        return prefix, "from_postcode_prefix"
    upper = postcode_clean.upper() if postcode_clean else ""
    if re.fullmatch(NL_POSTCODE_SHAPE, upper):
        return "NL", "from_postcode"
    city = city_country(city_raw)
    if city:
        return city, "from_city"
    if re.fullmatch(SE_POSTCODE_SHAPE, upper):
        return "SE", "from_postcode"
    return None, None


def address_country_sql(postcode_clean_expr: str, city_country_expr: str) -> str:
    """SQL of `address_country` as a STRUCT(country, reason), or NULL; `city_country_expr` is the
    looked-up `city_country` of the row's city (a join)."""
    upper = f"upper({postcode_clean_expr})"
    return (
        f"CASE WHEN {postcode_prefix_country_sql(postcode_clean_expr)} IS NOT NULL "
        f"THEN {{'country': {postcode_prefix_country_sql(postcode_clean_expr)}, "
        "'reason': 'from_postcode_prefix'} "
        f"WHEN regexp_full_match({upper}, {q(NL_POSTCODE_SHAPE)}) "
        "THEN {'country': 'NL', 'reason': 'from_postcode'} "
        f"WHEN {city_country_expr} IS NOT NULL THEN {{'country': {city_country_expr}, "
        "'reason': 'from_city'} "
        f"WHEN regexp_full_match({upper}, {q(SE_POSTCODE_SHAPE)}) "
        "THEN {'country': 'SE', 'reason': 'from_postcode'} END"
    )


def is_international(phone_clean: str | None) -> bool:
    """The number is written with its calling code (`+32 ...`, `0032 ...`)."""
    return bool(phone_clean) and (phone_clean.startswith("+") or phone_clean.startswith("00"))


def international_sql(phone_clean_expr: str) -> str:
    return f"({phone_clean_expr}[1] = '+' OR {phone_clean_expr}[1:2] = '00')"
