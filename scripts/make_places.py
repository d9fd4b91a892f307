"""Write assistant/data/places.json, the country and city names that answer "which country" and "which city".

The names come from the Unicode CLDR as Babel packages it: every ISO country's name in English, Portuguese (Brazil
and Portugal) and French, and the cities CLDR names time zones after ("Seoul", "Seul", "Séoul"). That is a few
hundred large cities, not every town: a city question whose answer names a small town is refused (README). Babel is
needed only to run this script, not by the assistant:

    pip install babel && python scripts/make_places.py
"""

from __future__ import annotations

import json
from pathlib import Path

from babel import Locale
from babel.core import get_global

LOCALES = ("en", "en_GB", "pt", "pt_PT", "fr", "fr_CA")
NOT_COUNTRIES = {"EU", "EZ", "UN", "ZZ", "QO", "XA", "XB"}  # CLDR's unions and pseudo-territories
ABBREVIATIONS = ["USA", "EUA", "UK"]  # what the news write for a country, which CLDR lists under no locale
# Time zones of these continents are named after a city; the others mostly after an island, a region or a station
# ("Pacific/Easter", "Atlantic/Madeira", "Antarctica/Vostok"), and a capitalised "Easter" names no city.
CONTINENTS = ("Africa/", "America/", "Asia/", "Australia/", "Europe/")
ISLAND_CITIES = {"Atlantic/Reykjavik", "Pacific/Auckland", "Pacific/Honolulu"}
# ...except these: a region of a state ("America/Indiana/Knox", "America/North_Dakota/Center"), and "Nome", which
# is the Portuguese for "name".
NOT_CITIES = ("America/Indiana/", "America/Kentucky/", "America/North_Dakota/", "America/Nome")


def is_city(zone: str) -> bool:
    return zone in ISLAND_CITIES or (zone.startswith(CONTINENTS) and not zone.startswith(NOT_CITIES))
OUT = Path(__file__).resolve().parent.parent / "assistant" / "data" / "places.json"


def main() -> None:
    countries, cities = set(ABBREVIATIONS), set()
    for code in LOCALES:
        locale = Locale.parse(code)
        countries.update(name for key, name in locale.territories.items()
                         if len(key) == 2 and key.isalpha() and key not in NOT_COUNTRIES)
        cities.update(names["city"] for zone, names in locale.time_zones.items() if "city" in names and is_city(zone))
    # English exemplar cities are the time zone ids themselves ("Asia/Seoul"); CLDR lists only those that differ.
    cities.update(zone.rsplit("/", 1)[1].replace("_", " ") for zone in get_global("zone_territories") if is_city(zone))
    data = {"_source": "Unicode CLDR via Babel (scripts/make_places.py); Unicode License v3, "
                       "Copyright © Unicode, Inc.",
            "country": sorted(countries), "city": sorted(cities - countries)}
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(data['country'])} countries, {len(data['city'])} cities")


if __name__ == "__main__":
    main()
