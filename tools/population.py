"""A seeded synthetic population of newcomers for batch runs, impact reports and benchmarks.

    python -m tools.population 100000 --seed 7 --missing 0.33 --output persons.parquet

Each row is one person in the columns ``decree batch`` reads (docs/population.md): an
``id``, the dotted fact names, and a boolean ``FACT:none`` column for the facts that a
person may have *known to have no value* (no contract signed yet, not registered). The
shares are plausible for Flanders and Brussels, not statistics: a quarter Belgians (some
born abroad of a parent born abroad), a third EU citizens, the rest from third countries;
grounds of stay, regions and registers by nationality; first registrations spread over
2004-2027 and contracts, letters and certificates after them. ``missing`` is the share
of persons who lack one or two facts (left unknown), the rest give every fact.

The same seed gives the same population on every machine (numpy's PCG64).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

import numpy as np
import polars as pl

EU = ["NL", "RO", "PL", "FR", "IT", "ES", "BG", "DE", "PT", "GR"]
THIRD = ["MA", "TR", "SY", "AF", "IN", "UA", "ER", "CN", "CD", "BR", "US", "GB", "PS", "RU"]
THIRD_WEIGHTS = [0.16, 0.10, 0.09, 0.08, 0.08, 0.10, 0.05, 0.04, 0.05, 0.04, 0.03, 0.04, 0.04, 0.06]
GROUNDS_THIRD = ["werk", "studie", "gezinshereniging", "verzoek_internationale_bescherming", "erkend_vluchteling",
                 "subsidiaire_bescherming", "tijdelijke_bescherming", "andere"]
GROUNDS_THIRD_WEIGHTS = [0.24, 0.07, 0.28, 0.09, 0.12, 0.04, 0.08, 0.08]
REGIONS = ["vlaanderen", "brussel", "wallonie"]

_EPOCH = date(1970, 1, 1).toordinal()
FIRST = date(2004, 1, 1).toordinal() - _EPOCH
LAST = date(2027, 12, 31).toordinal() - _EPOCH

# facts a person may have known to have no value: a ``FACT:none`` column says so
MAY_BE_NONE = ("traject.contract_datum", "traject.oproepingsbrief_datum", "traject.attest_datum",
               "traject.modules_arbeidsmigrant_voltooid", "persoon.erkenning_geloofsgemeenschap",
               "inschrijving.gewest")
# facts left unknown for the share ``missing`` (one or two of them per such person)
MAY_BE_MISSING = ("persoon.geboortedatum", "verblijf.grond", "inschrijving.eerste_datum", "traject.contract_datum",
                  "traject.oproepingsbrief_datum", "situatie.werkt", "persoon.alfa", "verblijf.eerste_keer",
                  "onderwijs.diploma_secundair", "traject.attest_datum", "inschrijving.gewest")


def generate(persons: int, seed: int = 0, missing: float = 0.0) -> pl.DataFrame:
    """``persons`` generated persons as a frame in the columns ``decree batch`` reads."""
    rng = np.random.default_rng(seed)
    n = persons
    kind = rng.choice(3, size=n, p=[0.25, 0.30, 0.45])  # 0 Belgian, 1 EU, 2 third country
    belgian, eu, third = kind == 0, kind == 1, kind == 2
    eu_code = np.array(EU)[rng.integers(0, len(EU), n)]
    third_code = np.array(THIRD)[rng.choice(len(THIRD), size=n, p=_shares(THIRD_WEIGHTS))]
    dual = belgian & (rng.random(n) < 0.35)
    nationalities: list[list[str]] = []
    for i in range(n):
        if belgian[i]:
            nationalities.append(["BE", str(third_code[i])] if dual[i] else ["BE"])
        elif eu[i]:
            nationalities.append([str(eu_code[i])])
        else:
            nationalities.append([str(third_code[i])])
    registered = rng.integers(FIRST, LAST + 1, n)
    age_at_registration = np.clip(rng.gamma(4.0, 7.5, n), 0, 85).astype(np.int64)
    birth = registered - age_at_registration * 365 - rng.integers(0, 365, n)
    grounds = np.array(GROUNDS_THIRD)[rng.choice(len(GROUNDS_THIRD), size=n, p=_shares(GROUNDS_THIRD_WEIGHTS))]
    grounds = np.where(eu, "eu_vrij_verkeer", grounds)
    grounds = np.where(belgian, "andere", grounds)
    region = np.array(REGIONS)[rng.choice(3, size=n, p=[0.66, 0.28, 0.06])]
    unregistered = rng.random(n) < 0.03
    contract_given = rng.random(n) < 0.55
    contract = registered + rng.integers(20, 420, n)
    letter_given = rng.random(n) < 0.6
    letter = registered + rng.integers(10, 200, n)
    certificate_given = contract_given & (rng.random(n) < 0.4)
    certificate = contract + rng.integers(180, 900, n)
    modules_given = rng.random(n) < 0.2
    modules = letter + rng.integers(30, 300, n)
    minister = rng.random(n) < 0.01
    work = grounds == "werk"
    columns: dict[str, Any] = {
        "id": [f"p-{i:07d}" for i in range(n)],
        "persoon.geboortedatum": _dates(birth),
        "persoon.nationaliteiten": nationalities,
        "persoon.geboren_in_belgie": belgian & ~dual & (rng.random(n) < 0.7),
        "persoon.ouder_geboren_in_buitenland": rng.random(n) < np.where(belgian, 0.5, 0.97),
        "persoon.bedienaar_eredienst": minister,
        "persoon.erkenning_geloofsgemeenschap": _dates(FIRST + rng.integers(0, 4000, n)),
        "persoon.ernstig_ziek_of_handicap": rng.random(n) < 0.03,
        "persoon.alfa": rng.random(n) < 0.12,
        "verblijf.grond": grounds,
        "verblijf.langer_dan_3_maanden": rng.random(n) < 0.9,
        "verblijf.eerste_keer": rng.random(n) < 0.85,
        "verblijf.tijdelijk_max_1_jaar": third & (rng.random(n) < np.where(work, 0.15, 0.03)),
        "verblijf.gezinslid_van_eu_burger": (third & (grounds == "gezinshereniging")) & (rng.random(n) < 0.2),
        "verblijf.gezinslid_van_arbeidsmigrant": (third & (grounds == "gezinshereniging")) & (rng.random(n) < 0.25),
        "verblijf.in_belgie_sinds": _dates(registered - rng.integers(0, 60, n)),
        "inschrijving.eerste_datum": _dates(registered),
        "inschrijving.gewest": region,
        "inschrijving.register": np.where(belgian | eu, "bevolkingsregister",
                                          np.where(grounds == "verzoek_internationale_bescherming", "wachtregister",
                                                   "vreemdelingenregister")),
        "onderwijs.diploma_belgie_of_nederland": rng.random(n) < 0.08,
        "onderwijs.okan_volledig_schooljaar": (age_at_registration < 18) & (rng.random(n) < 0.5),
        "onderwijs.diploma_secundair": rng.random(n) < 0.55,
        "onderwijs.ingeschreven_geletterdheid": rng.random(n) < 0.05,
        "onderwijs.opleiding_art64bis": rng.random(n) < 0.03,
        "situatie.werkt": rng.random(n) < np.where(work, 0.95, 0.45),
        "situatie.studeert": rng.random(n) < 0.1,
        "situatie.mag_werken": rng.random(n) < 0.85,
        "situatie.leefloon": rng.random(n) < 0.12,
        "situatie.gedetineerd": rng.random(n) < 0.005,
        "situatie.werkzoekend": rng.random(n) < 0.15,
        "situatie.werkzoekend_zonder_inschakelingsuitkering": rng.random(n) < 0.05,
        "situatie.niet_begeleide_minderjarige": (age_at_registration < 18) & (rng.random(n) < 0.05),
        "traject.contract_datum": _dates(contract),
        "traject.oproepingsbrief_datum": _dates(letter),
        "traject.attest_datum": _dates(certificate),
        "traject.verklaring_geleverde_inspanning": rng.random(n) < 0.04,
        "traject.mo_test_pogingen": rng.choice(3, size=n, p=[0.0, 0.85, 0.15]).astype(np.int64) + np.int64(0),
        "traject.modules_arbeidsmigrant_voltooid": _dates(modules),
    }
    columns["traject.mo_test_pogingen"] = np.maximum(columns["traject.mo_test_pogingen"], 1)
    none_of = {
        "traject.contract_datum": ~contract_given,
        "traject.oproepingsbrief_datum": ~letter_given,
        "traject.attest_datum": ~certificate_given,
        "traject.modules_arbeidsmigrant_voltooid": ~modules_given,
        "persoon.erkenning_geloofsgemeenschap": ~minister,
        "inschrijving.gewest": unregistered,
    }
    frame = pl.DataFrame(columns)
    frame = frame.with_columns(
        [pl.when(pl.Series(mask)).then(None).otherwise(pl.col(name)).alias(name) for name, mask in none_of.items()]
        + [pl.Series(f"{name}:none", mask) for name, mask in none_of.items()])
    if missing > 0:
        frame = _leave_out(frame, rng, missing)
    return frame


def _shares(weights: list[float]) -> np.ndarray:
    array = np.array(weights)
    return array / array.sum()


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def _leave_out(frame: pl.DataFrame, rng: np.random.Generator, share: float) -> pl.DataFrame:
    """A share of the persons lack one or two facts: unknown, neither a value nor none."""
    n = frame.height
    lacking = rng.random(n) < share
    first = rng.integers(0, len(MAY_BE_MISSING), n)
    second = np.where(rng.random(n) < 0.5, rng.integers(0, len(MAY_BE_MISSING), n), -1)
    updates = []
    for index, name in enumerate(MAY_BE_MISSING):
        gone = pl.Series(lacking & ((first == index) | (second == index)))
        updates.append(pl.when(gone).then(None).otherwise(pl.col(name)).alias(name))
        if name in MAY_BE_NONE:
            updates.append(pl.when(gone).then(False).otherwise(pl.col(f"{name}:none")).alias(f"{name}:none"))
    return frame.with_columns(updates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.population", description=__doc__.split("\n\n")[0])
    parser.add_argument("persons", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--missing", type=float, default=0.0, help="share of persons lacking one or two facts")
    parser.add_argument("--output", required=True, help="a .parquet, .csv or .jsonl file")
    arguments = parser.parse_args(argv)
    from engine.population.io import write_population

    write_population(generate(arguments.persons, arguments.seed, arguments.missing), arguments.output)
    print(f"{arguments.persons} persons written to {arguments.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
