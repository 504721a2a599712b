"""A small deterministic town of contacts for matcher tests: a few hundred people, some in two
sources, some households. Big enough that the estimated weights mean something."""

from __future__ import annotations

import random
from datetime import date, timedelta

from tests.match.conftest import contact

FIRST = [
    "Daan",
    "Sem",
    "Lucas",
    "Milan",
    "Levi",
    "Finn",
    "Bram",
    "Ruben",
    "Thijs",
    "Jesse",
    "Emma",
    "Julia",
    "Sophie",
    "Mila",
    "Tess",
    "Sara",
    "Noor",
    "Fenna",
    "Lieke",
    "Anouk",
    "Marloes",
    "Kevin",
    "Dennis",
    "Sanne",
    "Lisa",
    "Iris",
    "Femke",
    "Joost",
    "Wouter",
    "Maarten",
    "Ingrid",
    "Hanna",
    "Erik",
    "Karin",
]
LAST = [
    ("", "Jansen"),
    ("de", "Jong"),
    ("", "Bakker"),
    ("", "Visser"),
    ("", "Smit"),
    ("", "Meijer"),
    ("van", "Dijk"),
    ("", "Mulder"),
    ("de", "Boer"),
    ("", "Vos"),
    ("", "Peters"),
    ("", "Hendriks"),
    ("van", "Leeuwen"),
    ("", "Dekker"),
    ("", "Brouwer"),
    ("de", "Wit"),
    ("", "Dijkstra"),
    ("", "Wijnaldum"),
    ("van den", "Berg"),
    ("", "Kok"),
    ("", "Jacobs"),
    ("", "Vermeulen"),
    ("", "Schouten"),
    ("", "Willems"),
]
STREETS = [
    "Hoofdstraat",
    "Kerkstraat",
    "Dorpsstraat",
    "Schoolstraat",
    "Molenweg",
    "Stationsweg",
    "Julianastraat",
    "Beatrixlaan",
    "Wilhelminastraat",
    "Parallelweg",
    "Nieuwstraat",
    "Marktplein",
]
CITIES = [
    ("Utrecht", "35"),
    ("Amersfoort", "38"),
    ("Zwolle", "80"),
    ("Leiden", "23"),
    ("Delft", "26"),
]
DOMAINS = ["gmail.com", "hotmail.com", "ziggo.nl", "kpnmail.nl", "outlook.com"]


def town(people: int = 300, seed: int = 7) -> list[dict]:
    """Contacts of `people` people: everyone in `crm`, about half also in `webshop` with small
    variations."""
    rng = random.Random(seed)
    rows = []
    for p in range(people):
        first = rng.choice(FIRST)
        infix, last = rng.choice(LAST)
        city, prefix = rng.choice(CITIES)
        postcode = (
            f"{prefix}{rng.randint(10, 99)} "
            f"{rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}{rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}"
        )
        number = str(rng.randint(1, 250))
        street = rng.choice(STREETS)
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 25_000))
        local = f"{first.lower()}.{(infix + last).replace(' ', '').lower()}{rng.randint(1, 999)}"
        email = f"{local}@{rng.choice(DOMAINS)}"
        phone = f"+316{rng.randint(10_000_000, 99_999_999)}"
        base = dict(
            first_name=first,
            infix=infix or None,
            last_name=last,
            street=street,
            house_number=number,
            postcode=postcode,
            city=city,
            country="NL",
            birth_date=birth,
        )
        rows.append(contact("crm", f"T{p}", email=email, phone=phone, **base))
        if rng.random() < 0.5:
            variant = dict(base)
            if rng.random() < 0.3:
                variant["first_name"] = first[0] + "."
                variant["first_name_is_initials"] = True
            if rng.random() < 0.2:
                variant["street"] = street.replace("straat", "str.")
            rows.append(
                contact(
                    "webshop",
                    f"W{p}",
                    email=email if rng.random() < 0.8 else None,
                    phone=phone if rng.random() < 0.5 else None,
                    **variant,
                )
            )
    return rows


def people_of(rows: list[dict]) -> dict[tuple[str, str], str]:
    """The true person of each town record (T<n> and W<n> are the same person n)."""
    return {(r["source"], r["source_record_id"]): r["source_record_id"][1:] for r in rows}
