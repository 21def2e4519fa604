#!/usr/bin/env python3
"""Lists the phone numbers written in the repository's tests, demo, examples and
docs that the core would not send an OTP to, each with a replacement of the same
country that it would: a valid number of type mobile (or, where the plan cannot
tell, fixedLineOrMobile: the North American plan), the type every test number
should have.

    bash scripts/check-numbers.sh [path ...]     # installs the pinned phonenumbers
    target/numbering-venv/bin/python scripts/check-numbers.py [path ...]

It classifies with libphonenumber's metadata from the same pinned `phonenumbers`
release that src/numbering/ is generated from (the core agrees with it on every
example number: src/numbering/tests.rs). Prints `file:line: old -> new (why)`, one
line per number, and exits 1 when it printed any.

What it reads as a phone number: `+` then 7-15 digits (spaces, dots, dashes and
brackets allowed); a quoted string of 10-15 digits on a line that speaks of a phone
(`phone`, `to`, `msisdn`, `recipient`); a quoted national number (starting with 0,
8 digits or more) with the country given on its line (`countryIso: "FR"`,
`parsePhone("…", "FR")`) or, in the demo and its test, GB (the demo's default
country); a number written as the prefix of a template string (`+336124241${i}`)
is fine when some completion of it is. Numbers a test uses on purpose as invalid
(an unknown calling code, too short or too long) are reported too, marked
`deliberately invalid?`, with no replacement: leave those.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import phonenumbers as pn
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = [
    "tests", "demo", "bench", "examples", "scripts", "pkg/README.md", "README.md",
    "api/openapi.mjs",
]
SKIP = {"scripts/check-numbers.py", "scripts/gen-numbering-plan.py"}
# The country of a national number with none on its line, by path prefix.
COUNTRY_BY_PATH = {"demo/": "GB", "tests/browser/demo.test.mjs": "GB"}
SUFFIXES = {".mjs", ".js", ".ts", ".json", ".html", ".md", ".rs", ".sh", ".py", ".css"}
SENDABLE = {
    PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
}
TYPE_NAMES = {
    PhoneNumberType.FIXED_LINE: "fixedLine", PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixedLineOrMobile",
    PhoneNumberType.TOLL_FREE: "tollFree", PhoneNumberType.PREMIUM_RATE: "premiumRate",
    PhoneNumberType.SHARED_COST: "sharedCost", PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personalNumber", PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan", PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}

E164 = re.compile(r"(?<![\w+])\+[1-9][0-9 ().\-]{5,22}[0-9](?![0-9])")
QUOTED_DIGITS = re.compile(r"""(?<=["'`])([1-9][0-9]{9,14})(?=["'`])""")
QUOTED_NATIONAL = re.compile(r"""(?<=["'`])(0[0-9 ().\-]{7,18}[0-9])(?=["'`])""")
PHONE_CONTEXT = re.compile(r"phone|\bto\b|msisdn|recipient", re.I)
COUNTRY_ON_LINE = re.compile(
    r"""countryIso["']?\s*[:=]\s*["']([A-Za-z]{2})["']|,\s*["']([A-Z]{2})["']\s*\)"""
)


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def files(paths: list[str]):
    for p in paths:
        path = ROOT / p
        if path.is_file():
            yield path
        elif path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file() and f.suffix in SUFFIXES and "node_modules" not in f.parts:
                    yield f


def sendable(num) -> bool:
    return pn.is_valid_number(num) and pn.number_type(num) in SENDABLE and num.country_code not in (
        pn.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    )


used: dict[tuple[Path, str], str] = {}


def replacement(num, style: str, old: str, file: Path) -> str | None:
    """A sendable number of the same country, distinct per (file, old number)."""
    if (file, old) in used:
        return used[(file, old)]
    region = pn.region_code_for_number(num) or pn.region_code_for_country_code(num.country_code)
    if region in (None, "ZZ", "001"):
        return None
    example = None
    for t in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        example = pn.example_number_for_type(region, t)
        if example is not None and sendable(example):
            break
    if example is None:
        return None
    taken = {v for (f, _), v in used.items() if f == file}
    base = str(example.national_number)
    # Keep the old number's last digits where possible, so that distinct test
    # numbers stay distinct.
    tail = digits(old)[-2:]
    for attempt in range(200):
        cand_digits = base[:-2] + f"{(int(tail) + attempt) % 100:02d}" if attempt or tail else base
        cand = pn.PhoneNumber(country_code=example.country_code, national_number=int(cand_digits),
                              italian_leading_zero=example.italian_leading_zero,
                              number_of_leading_zeros=example.number_of_leading_zeros)
        if not sendable(cand):
            continue
        text = formatted(cand, style, old)
        if text not in taken:
            used[(file, old)] = text
            return text
    return None


def formatted(num, style: str, old: str) -> str:
    if style == "e164":
        if " " in old or "(" in old:
            return pn.format_number(num, PhoneNumberFormat.INTERNATIONAL)
        return pn.format_number(num, PhoneNumberFormat.E164)
    if style == "digits":
        return pn.format_number(num, PhoneNumberFormat.E164)[1:]
    national = pn.format_number(num, PhoneNumberFormat.NATIONAL)
    return national if " " in old else digits(national)


def parse(old: str, style: str, country: str | None):
    return pn.parse(old if style != "digits" else "+" + old, country)


def check(old: str, style: str, country: str | None, file: Path, prefix: bool):
    """(why, replacement) when `old` is not sendable; None when it is."""
    if prefix:
        for extra in range(0, 7):
            try:
                if sendable(parse(old + "0" * extra, style, country)):
                    return None
            except NumberParseException:
                pass
    try:
        num = parse(old, style, country)
    except NumberParseException as e:
        return (f"does not parse: {e._msg}; deliberately invalid?", None)
    if sendable(num):
        return None
    if num.country_code in pn.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        return ("international network (region 001); deliberately refused?", None)
    if not pn.is_valid_number(num):
        n = len(digits(old))
        if pn.region_code_for_country_code(num.country_code) == "ZZ" or n < 7 or n > 15:
            return ("invalid: not in the numbering plan; deliberately invalid?", None)
        why = "invalid: not in the numbering plan"
    else:
        why = f"valid but {TYPE_NAMES[pn.number_type(num)]}"
    return (why, replacement(num, style, old, file))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", default=DEFAULT_PATHS)
    args = ap.parse_args()
    found = 0
    for f in files(args.paths):
        rel = f.relative_to(ROOT).as_posix()
        if rel in SKIP:
            continue
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            hits = [(m, "e164", None) for m in E164.finditer(line)]
            phone_line = PHONE_CONTEXT.search(line)
            if phone_line:
                hits += [(m, "digits", None) for m in QUOTED_DIGITS.finditer(line)]
            country_match = COUNTRY_ON_LINE.search(line)
            country = next((c for p, c in COUNTRY_BY_PATH.items() if rel.startswith(p)), None)
            if country_match:
                country = (country_match.group(1) or country_match.group(2)).upper()
            if phone_line and country in pn.SUPPORTED_REGIONS:
                for m in QUOTED_NATIONAL.finditer(line):
                    if len(digits(m.group(1))) >= 8:
                        hits.append((m, "national", country))
            for m, style, country in hits:
                old = m.group(1) if m.groups() else m.group(0)
                prefix = line[m.end():].startswith("${")
                verdict = check(old, style, country, f, prefix)
                if verdict is None:
                    continue
                why, new = verdict
                found += 1
                where = f" [{country}]" if style == "national" else ""
                print(f"{rel}:{lineno}: {old}{where} -> {new or '(keep or pick by hand)'} ({why})")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
