"""Response language: the ``lang`` parameter or ``Accept-Language``, with fallbacks.

Supported languages are ``zh`` (Chinese), ``en`` (English / pinyin), ``mn`` (Mongolian,
Cyrillic script) and ``ru`` (Russian). The response language is chosen as follows:

1. the ``lang`` query parameter, when given;
2. else the first supported language in ``Accept-Language`` by quality (``q``); region
   and script subtags are ignored (``zh-CN`` -> ``zh``, ``mn-Cyrl-MN`` -> ``mn``,
   ``ru-RU`` -> ``ru``); ``*`` counts as ``en``;
3. else ``en``.

A name missing in the chosen language falls back along :data:`FALLBACK`:

* ``zh`` -> ``en``
* ``en`` -> ``zh``
* ``mn`` -> ``ru`` -> ``en`` -> ``zh`` (Mongolian readers of Cyrillic read Russian more
  often than English; many cross-border drivers do)
* ``ru`` -> ``en`` -> ``zh``

Localised responses carry ``Content-Language`` and ``Vary: Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from fastapi import Request


class Lang(StrEnum):
    """Languages of names in responses."""

    zh = "zh"
    en = "en"
    mn = "mn"
    ru = "ru"


DEFAULT_LANG = Lang.en

FALLBACK: dict[Lang, tuple[str, ...]] = {
    Lang.zh: ("zh", "en"),
    Lang.en: ("en", "zh"),
    Lang.mn: ("mn", "ru", "en", "zh"),
    Lang.ru: ("ru", "en", "zh"),
}
"""Order in which name fields are tried for each response language."""

_MAX_HEADER_CHARS = 500


def parse_accept_language(header: str | None) -> Lang | None:
    """The best supported language of an ``Accept-Language`` header, or ``None``.

    Malformed entries are skipped (a header never causes an error).
    """
    if not header:
        return None
    best: tuple[float, int, Lang] | None = None
    for position, part in enumerate(header[:_MAX_HEADER_CHARS].split(",")):
        fields = [f.strip() for f in part.split(";")]
        tag = fields[0].lower()
        if not tag:
            continue
        quality = 1.0
        for param in fields[1:]:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = -1.0
        if not 0.0 < quality <= 1.0:  # q=0 means "not acceptable"; NaN fails too
            continue
        primary = "en" if tag == "*" else tag.split("-", 1)[0]
        if primary not in Lang.__members__:
            continue
        key = (-quality, position, Lang(primary))
        if best is None or key[:2] < best[:2]:
            best = key
    return best[2] if best else None


def resolve_lang(lang: Lang | None, accept_language: str | None) -> Lang:
    """The response language from the ``lang`` parameter and ``Accept-Language``."""
    if lang is not None:
        return lang
    return parse_accept_language(accept_language) or DEFAULT_LANG


def request_lang(request: Request, lang: Lang | None) -> Lang:
    """Resolve the language of a request (see module docstring)."""
    return resolve_lang(lang, request.headers.get("accept-language"))


def pick(names: Mapping[str, str | None], lang: Lang) -> str | None:
    """The name in ``lang`` or the first available along :data:`FALLBACK`."""
    for key in FALLBACK[lang]:
        value = names.get(key)
        if value:
            return value
    return None


def language_headers(lang: Lang) -> dict[str, str]:
    """Headers of a localised response."""
    return {"Content-Language": lang.value, "Vary": "Accept-Language"}
