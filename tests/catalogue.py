"""The patient-facing text as the translation tools see it, for the language tests.

Messages are extracted from the sources with the project's own ``babel.cfg`` (the same
extraction as ``make messages``), so a string added to a template, a Python module or a
clinical data file is checked here whether or not anyone re-ran the tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from screening.i18n import PEG_COMMENT

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "screening" / "translations"
CONFIG = TRANSLATIONS / "babel.cfg"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


@dataclass(frozen=True)
class Message:
    text: str
    #: Where it comes from: "path:line", one per place.
    places: tuple[str, ...]
    #: A validated instrument item (PEG): its published wording is kept as is.
    validated: bool


@cache
def english() -> dict[str, Message]:
    """Every message id extracted from the patient-facing sources."""
    with CONFIG.open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, str(CONFIG))
    found: dict[str, Message] = {}
    for filename, lineno, text, comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        if not isinstance(text, str) or not text:
            continue
        place = f"{filename}:{lineno}"
        old = found.get(text)
        found[text] = Message(
            text,
            (*old.places, place) if old else (place,),
            (old.validated if old else False) or PEG_COMMENT in " ".join(comments),
        )
    return found


def po_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


@cache
def translations(language: str) -> dict[str, str]:
    """Message id -> translation of the language's .po file (fuzzy entries left out)."""
    with po_path(language).open("rb") as po:
        catalog = read_po(po)
    return {m.id: m.string for m in catalog if m.id and m.string and not m.fuzzy}


def compiled(language: str) -> dict[str, str]:
    """Message id -> translation of the compiled .mo file the app reads."""
    with po_path(language).with_suffix(".mo").open("rb") as mo:
        catalog = read_mo(mo)
    return {m.id: m.string for m in catalog if m.id}


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))
