#!/usr/bin/env python3
"""Russia's production calendar from PyPI's `holidays` package.

    python3 scripts/production_calendar.py 2024 2025 2026 2027 > dashboards/calendar.toml
    python3 scripts/production_calendar.py --json 2024 2027     # what tests/it/calendar.rs compares

The package lists the public holidays of the Labour Code (art. 112) and the
days off the Government's yearly decree moves, and the weekend days the decree
makes working days. touchpoint counts case deadlines in working days from the
TOML this writes; edit that file when a decree changes a year.
"""

import json
import sys

import holidays


def year(y):
    days = holidays.country_holidays("RU", years=[y])
    return {
        "days_off": sorted(d.isoformat() for d in days),
        "working_weekends": sorted(d.isoformat() for d in getattr(days, "weekend_workdays", ())),
    }


def toml(years):
    out = [
        "# Russia's production calendar: the days off (public holidays and the days the",
        "# Government's decree moves) and the weekend days worked instead. Case deadlines",
        "# count working days with it: Monday to Friday unless listed under days_off, and",
        "# the Saturdays and Sundays listed under working_weekends. Years not listed fall",
        "# back to the Labour Code's fixed holidays (art. 112) and plain weekends.",
        f"# Written by scripts/production_calendar.py from PyPI's holidays {holidays.__version__};",
        "# check each year against the Government's decree on moving days off for it.",
        "",
    ]
    for y in years:
        data = year(y)
        out.append(f"[years.{y}]")
        for key in ("days_off", "working_weekends"):
            items = ", ".join(f'"{d}"' for d in data[key])
            out.append(f"{key} = [{items}]")
        out.append("")
    return "\n".join(out)


def main(args):
    as_json = "--json" in args
    years = [int(a) for a in args if a != "--json"]
    if as_json:
        print(json.dumps({str(y): year(y) for y in years}, sort_keys=True))
    else:
        print(toml(years), end="")


if __name__ == "__main__":
    main(sys.argv[1:])
