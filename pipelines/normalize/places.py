"""Place names: one canonical spelling per place, for the cities of NL, BE and SE rows.

- Sweden: the diacritics restored (`Goteborg` -> `Göteborg`, `JONKOPING` -> `Jönköping`), and
  the English `Gothenburg`.
- Belgium: the official name in the place's own language region (`Gand` -> `Gent`, `Anvers` ->
  `Antwerpen`, `Luik` -> `Liège`, `Bergen` -> `Mons`), accents restored (`Liege` -> `Liège`,
  `Achene` -> `Achêne`: the localities with diacritics are in `place_names.csv`, as are the
  Dutch ones, `Exloermond` -> `Exloërmond`).
  Brussels and its 18 other bilingual communes follow `BRUSSELS_NAMES`: `nl` (the default:
  `Brussel`, `Elsene`), `fr` (`Bruxelles`, `Ixelles`) or `as_written`.
- The Netherlands: the official (BAG/PostNL) name of the two cities with a common other name:
  `Den Haag` -> `'s-Gravenhage`, `Den Bosch` -> `'s-Hertogenbosch`.

Names are looked up by `place_key`: lower case, no diacritics, hyphens/apostrophes/dots as
spaces. A place not in the lists keeps its spelling (only casing and the IJ are fixed).
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import cache
from pathlib import Path

BRUSSELS_NAMES = ("nl", "fr", "as_written")
DEFAULT_BRUSSELS_NAMES = "nl"

SWEDISH_PLACES = (
    "Göteborg",
    "Malmö",
    "Jönköping",
    "Linköping",
    "Norrköping",
    "Västerås",
    "Örebro",
    "Umeå",
    "Gävle",
    "Borås",
    "Mölndal",
    "Södertälje",
    "Växjö",
    "Luleå",
    "Trollhättan",
    "Östersund",
    "Borlänge",
    "Skövde",
    "Skellefteå",
    "Lidingö",
    "Örnsköldsvik",
    "Nyköping",
    "Sölvesborg",
    "Ängelholm",
    "Hässleholm",
    "Höganäs",
    "Hörby",
    "Höör",
    "Täby",
    "Järfälla",
    "Norrtälje",
    "Enköping",
    "Köping",
    "Västervik",
    "Vänersborg",
    "Strömstad",
    "Alingsås",
    "Kungälv",
    "Härryda",
    "Öckerö",
    "Tjörn",
    "Falköping",
    "Lidköping",
    "Töreboda",
    "Åmål",
    "Säffle",
    "Årjäng",
    "Hällefors",
    "Söderhamn",
    "Bollnäs",
    "Ovanåker",
    "Härnösand",
    "Sollefteå",
    "Kramfors",
    "Timrå",
    "Ånge",
    "Vännäs",
    "Åsele",
    "Malå",
    "Piteå",
    "Älvsbyn",
    "Övertorneå",
    "Överkalix",
    "Gällivare",
    "Östhammar",
    "Älvkarleby",
    "Håbo",
    "Upplands Väsby",
    "Österåker",
    "Värmdö",
    "Tyresö",
    "Ekerö",
    "Nynäshamn",
    "Strängnäs",
    "Vingåker",
    "Oxelösund",
    "Mjölby",
    "Ödeshög",
    "Åtvidaberg",
    "Söderköping",
    "Finspång",
    "Värnamo",
    "Eksjö",
    "Nässjö",
    "Tranås",
    "Sävsjö",
    "Älmhult",
    "Högsby",
    "Mönsterås",
    "Emmaboda",
    "Torsås",
    "Mörbylånga",
    "Olofström",
    "Sjöbo",
    "Kävlinge",
    "Eslöv",
    "Åstorp",
    "Svalöv",
    "Båstad",
    "Örkelljunga",
    "Östra Göinge",
    "Bromölla",
    "Rättvik",
    "Älvdalen",
    "Säter",
    "Åre",
    "Strömsund",
    "Härjedalen",
    "Bräcke",
    "Kungsör",
    "Solna",
    "Danderyd",
    "Sollentuna",
    "Bromma",
    "Skärholmen",
    "Hägersten",
    "Älvsjö",
    "Vällingby",
    "Spånga",
    "Hässelby",
    "Sundbyberg",
    "Nacka",
    "Huddinge",
    "Haninge",
    "Botkyrka",
    "Stockholm",
    "Uppsala",
    "Helsingborg",
    "Lund",
    "Halmstad",
    "Eskilstuna",
    "Karlstad",
    "Sundsvall",
    "Kalmar",
    "Kristianstad",
    "Karlskrona",
    "Uddevalla",
    "Motala",
    "Landskrona",
    "Karlskoga",
    "Varberg",
    "Trelleborg",
    "Falun",
    "Visby",
    "Ystad",
    "Kiruna",
    "Lerum",
    "Partille",
    "Kungsbacka",
    "Hudiksvall",
    "Sandviken",
    "Ljungby",
    "Oskarshamn",
    "Örnsköldsvik",
)
SWEDISH_ALIASES = {"Gothenburg": "Göteborg", "Gotenburg": "Göteborg", "Malmoe": "Malmö"}

# (other-language name, official name): the official name is in the language of the region the
# place lies in (Flanders: Dutch, Wallonia: French, the East Cantons: German).
BELGIAN_ALIASES = (
    ("Gand", "Gent"),
    ("Ghent", "Gent"),
    ("Anvers", "Antwerpen"),
    ("Antwerp", "Antwerpen"),
    ("Malines", "Mechelen"),
    ("Bruges", "Brugge"),
    ("Louvain", "Leuven"),
    ("Courtrai", "Kortrijk"),
    ("Ypres", "Ieper"),
    ("Alost", "Aalst"),
    ("Termonde", "Dendermonde"),
    ("Audenarde", "Oudenaarde"),
    ("Renaix", "Ronse"),
    ("Grammont", "Geraardsbergen"),
    ("Tirlemont", "Tienen"),
    ("Saint-Trond", "Sint-Truiden"),
    ("Tongres", "Tongeren"),
    ("Lierre", "Lier"),
    ("Hal", "Halle"),
    ("Vilvorde", "Vilvoorde"),
    ("Ostende", "Oostende"),
    ("Ostend", "Oostende"),
    ("Furnes", "Veurne"),
    ("Dixmude", "Diksmuide"),
    ("Menin", "Menen"),
    ("Wervicq", "Wervik"),
    ("Messines", "Mesen"),
    ("Looz", "Borgloon"),
    ("Léau", "Zoutleeuw"),
    ("Diest", "Diest"),
    ("Rhode-Saint-Genèse", "Sint-Genesius-Rode"),
    ("Hasselt", "Hasselt"),
    ("Luik", "Liège"),
    ("Liege", "Liège"),
    ("Lüttich", "Liège"),
    ("Bergen", "Mons"),
    ("Namen", "Namur"),
    ("Doornik", "Tournai"),
    ("Nijvel", "Nivelles"),
    ("Waver", "Wavre"),
    ("Hoei", "Huy"),
    ("Aarlen", "Arlon"),
    ("Bastenaken", "Bastogne"),
    ("Edingen", "Enghien"),
    ("Aat", "Ath"),
    ("Zinnik", "Soignies"),
    ("Moeskroen", "Mouscron"),
    ("Komen", "Comines"),
    ("Geldenaken", "Jodoigne"),
    ("Lens-op-den-Berg", "Lens"),
    ("Vloesberg", "Flobecq"),
    ("Chatelet", "Châtelet"),
    ("Peruwelz", "Péruwelz"),
    ("Ecaussinnes", "Écaussinnes"),
    ("Bievre", "Bièvre"),
    ("Eupen", "Eupen"),
    ("Saint-Vith", "Sankt Vith"),
    ("Sint-Vith", "Sankt Vith"),
    ("Kelmis", "Kelmis"),
    ("La Calamine", "Kelmis"),
    ("Butgenbach", "Bütgenbach"),
    ("Bullange", "Büllingen"),
    ("Bullingen", "Büllingen"),
    ("Amblève", "Amel"),
    ("Louviere", "La Louvière"),
    ("La Louviere", "La Louvière"),
    ("Mons", "Mons"),
    ("Namur", "Namur"),
)
# The bilingual Brussels-Capital communes: (Dutch, French).
BRUSSELS_COMMUNES = (
    ("Brussel", "Bruxelles"),
    ("Anderlecht", "Anderlecht"),
    ("Oudergem", "Auderghem"),
    ("Sint-Agatha-Berchem", "Berchem-Sainte-Agathe"),
    ("Etterbeek", "Etterbeek"),
    ("Evere", "Evere"),
    ("Vorst", "Forest"),
    ("Ganshoren", "Ganshoren"),
    ("Elsene", "Ixelles"),
    ("Jette", "Jette"),
    ("Koekelberg", "Koekelberg"),
    ("Sint-Jans-Molenbeek", "Molenbeek-Saint-Jean"),
    ("Sint-Gillis", "Saint-Gilles"),
    ("Sint-Joost-ten-Node", "Saint-Josse-ten-Noode"),
    ("Schaarbeek", "Schaerbeek"),
    ("Ukkel", "Uccle"),
    ("Watermaal-Bosvoorde", "Watermael-Boitsfort"),
    ("Sint-Lambrechts-Woluwe", "Woluwe-Saint-Lambert"),
    ("Sint-Pieters-Woluwe", "Woluwe-Saint-Pierre"),
)
BRUSSELS_OTHER_NAMES = {
    "Brussels": "Brussel",
    "Brüssel": "Brussel",
    "Laken": "Brussel",
    "Laeken": "Brussel",
}

DUTCH_ALIASES = {
    "Den Haag": "'s-Gravenhage",
    "The Hague": "'s-Gravenhage",
    "s-Gravenhage": "'s-Gravenhage",
    "Gravenhage": "'s-Gravenhage",
    "Den Bosch": "'s-Hertogenbosch",
    "s-Hertogenbosch": "'s-Hertogenbosch",
    "Hertogenbosch": "'s-Hertogenbosch",
}


def place_key(name: str) -> str:
    """`'s-Gravenhage` -> `s gravenhage`, `GÖTEBORG` -> `goteborg`: the lookup key of a place
    name."""
    text = unicodedata.normalize("NFKD", name.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[\-'’.]", " ", text).split())


PLACE_NAMES_FILE = Path(__file__).with_name(
    "place_names.csv"
)  # country,name: places with diacritics


@cache
def _tables() -> dict[str, dict[str, str]]:
    se = {place_key(p): p for p in SWEDISH_PLACES}
    se.update({place_key(a): p for a, p in SWEDISH_ALIASES.items()})
    be = {place_key(a): p for a, p in BELGIAN_ALIASES}
    be.update({place_key(p): p for _, p in BELGIAN_ALIASES})
    nl = {place_key(a): p for a, p in DUTCH_ALIASES.items()}
    nl.update({place_key(p): p for p in DUTCH_ALIASES.values()})
    tables = {"SE": se, "BE": be, "NL": nl}
    with PLACE_NAMES_FILE.open(encoding="utf-8") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            tables[row["country"]].setdefault(place_key(row["name"]), row["name"])
    return tables


@cache
def _brussels(preference: str) -> dict[str, str]:
    pick = 0 if preference == "nl" else 1
    out = {}
    for pair in BRUSSELS_COMMUNES:
        for name in pair:
            out[place_key(name)] = pair[pick]
    for other, dutch in BRUSSELS_OTHER_NAMES.items():
        out[place_key(other)] = dict(BRUSSELS_COMMUNES)[dutch] if pick else dutch
    return out


def canonical_place(
    name: str, country: str | None, brussels: str = DEFAULT_BRUSSELS_NAMES
) -> str | None:
    """The canonical name of a known place of `country`, or None when the place is not listed."""
    key = place_key(name)
    if country in (None, "BE") and brussels != "as_written":
        found = _brussels(brussels).get(key)
        if found:
            return found
    if country is None:
        return None
    return _tables().get(country, {}).get(key)


def brussels_names(source) -> str:
    """The names of Brussels a source's rows get: its `brussels_names` setting (filled from
    `defaults.brussels_names` when the config is loaded), else `DEFAULT_BRUSSELS_NAMES`."""
    return getattr(source, "brussels_names", None) or DEFAULT_BRUSSELS_NAMES
