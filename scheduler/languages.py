"""Language tags (BCP 47, RFC 5646): checked where they come in, compared the way a person means them.

A tag is well-formed ``language[-extlang][-script][-region][-variant...][-extension...][-x-private]``;
its primary language subtag must be an ISO 639-1 code (the list below) or a three-letter ISO
639-2/3 code. Tags are stored in their canonical case (``de-CH``, ``zh-Hant-TW``).

Two tags *match* when their primary language subtags are equal and they do not name different
scripts: a ``de-CH`` channel takes a ``de`` (or ``de-DE``) text, a ``zh-Hant`` channel does not take
a ``zh-Hans`` one. Regions and variants are not compared: a person asking for German means German.
"""

from __future__ import annotations

import re

from scheduler.errors import InvalidInput

# The language of a post created without --language.
DEFAULT = "en"

# The tag columns (posts, channels, variants) hold 16 characters.
MAX_LENGTH = 16

# ISO 639-1: every two-letter code, with its English name for messages.
ISO_639_1: dict[str, str] = {
    "aa": "Afar", "ab": "Abkhazian", "ae": "Avestan", "af": "Afrikaans", "ak": "Akan", "am": "Amharic",
    "an": "Aragonese", "ar": "Arabic", "as": "Assamese", "av": "Avaric", "ay": "Aymara", "az": "Azerbaijani",
    "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian", "bi": "Bislama", "bm": "Bambara", "bn": "Bengali",
    "bo": "Tibetan", "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "ce": "Chechen", "ch": "Chamorro",
    "co": "Corsican", "cr": "Cree", "cs": "Czech", "cu": "Church Slavic", "cv": "Chuvash", "cy": "Welsh",
    "da": "Danish", "de": "German", "dv": "Divehi", "dz": "Dzongkha", "ee": "Ewe", "el": "Greek",
    "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "ff": "Fulah", "fi": "Finnish", "fj": "Fijian", "fo": "Faroese", "fr": "French", "fy": "Western Frisian",
    "ga": "Irish", "gd": "Scottish Gaelic", "gl": "Galician", "gn": "Guarani", "gu": "Gujarati", "gv": "Manx",
    "ha": "Hausa", "he": "Hebrew", "hi": "Hindi", "ho": "Hiri Motu", "hr": "Croatian", "ht": "Haitian",
    "hu": "Hungarian", "hy": "Armenian", "hz": "Herero", "ia": "Interlingua", "id": "Indonesian",
    "ie": "Interlingue", "ig": "Igbo", "ii": "Sichuan Yi", "ik": "Inupiaq", "io": "Ido", "is": "Icelandic",
    "it": "Italian", "iu": "Inuktitut", "ja": "Japanese", "jv": "Javanese", "ka": "Georgian", "kg": "Kongo",
    "ki": "Kikuyu", "kj": "Kuanyama", "kk": "Kazakh", "kl": "Kalaallisut", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "kr": "Kanuri", "ks": "Kashmiri", "ku": "Kurdish", "kv": "Komi", "kw": "Cornish",
    "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish", "lg": "Ganda", "li": "Limburgish", "ln": "Lingala",
    "lo": "Lao", "lt": "Lithuanian", "lu": "Luba-Katanga", "lv": "Latvian", "mg": "Malagasy",
    "mh": "Marshallese", "mi": "Maori", "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian",
    "mr": "Marathi", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "na": "Nauru", "nb": "Norwegian Bokmål",
    "nd": "North Ndebele", "ne": "Nepali", "ng": "Ndonga", "nl": "Dutch", "nn": "Norwegian Nynorsk",
    "no": "Norwegian", "nr": "South Ndebele", "nv": "Navajo", "ny": "Chichewa", "oc": "Occitan",
    "oj": "Ojibwa", "om": "Oromo", "or": "Odia", "os": "Ossetian", "pa": "Punjabi", "pi": "Pali",
    "pl": "Polish", "ps": "Pashto", "pt": "Portuguese", "qu": "Quechua", "rm": "Romansh", "rn": "Rundi",
    "ro": "Romanian", "ru": "Russian", "rw": "Kinyarwanda", "sa": "Sanskrit", "sc": "Sardinian",
    "sd": "Sindhi", "se": "Northern Sami", "sg": "Sango", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian",
    "sm": "Samoan", "sn": "Shona", "so": "Somali", "sq": "Albanian", "sr": "Serbian", "ss": "Swati",
    "st": "Southern Sotho", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "tg": "Tajik", "th": "Thai", "ti": "Tigrinya", "tk": "Turkmen", "tl": "Tagalog",
    "tn": "Tswana", "to": "Tonga", "tr": "Turkish", "ts": "Tsonga", "tt": "Tatar", "tw": "Twi",
    "ty": "Tahitian", "ug": "Uyghur", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "ve": "Venda",
    "vi": "Vietnamese", "vo": "Volapük", "wa": "Walloon", "wo": "Wolof", "xh": "Xhosa", "yi": "Yiddish",
    "yo": "Yoruba", "za": "Zhuang", "zh": "Chinese", "zu": "Zulu",
}  # fmt: skip

# language ["-" extlang] ["-" script] ["-" region] *("-" variant) *("-" extension) ["-" privateuse]
_TAG = re.compile(
    r"""^(?P<language>[a-z]{2,3})
    (?:-[a-z]{3}){0,3}
    (?:-(?P<script>[a-z]{4}))?
    (?:-(?P<region>[a-z]{2}|[0-9]{3}))?
    (?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*
    (?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*
    (?:-x(?:-[a-z0-9]{1,8})+)?$""",
    re.VERBOSE,
)


def parse_language(tag: str, *, what: str = "language") -> str:
    """A BCP 47 tag in its canonical case; InvalidInput naming the problem otherwise."""
    text = tag.strip()
    if not text:
        raise InvalidInput(f"{what} is empty: give a language tag such as en, de or pt-BR")
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"{what} {tag[:40]!r}: at most {MAX_LENGTH} characters")
    lowered = text.lower()
    found = _TAG.match(lowered)
    if found is None:
        raise InvalidInput(
            f"{what} {text!r} is not a well-formed BCP 47 tag (language[-script][-region], e.g. en, de-CH, zh-Hant)"
        )
    primary = found["language"]
    if len(primary) == 2 and primary not in ISO_639_1:
        raise InvalidInput(f"{what} {text!r}: {primary!r} is not an ISO 639-1 language code (e.g. en, de, fr)")
    parts = lowered.split("-")
    canonical = [parts[0]]
    tail = False  # from the first singleton on (extensions, private use), subtags stay lower case
    for part in parts[1:]:
        tail = tail or len(part) == 1
        if not tail and len(part) == 4 and part.isalpha():
            canonical.append(part.title())  # a script
        elif not tail and len(part) == 2:
            canonical.append(part.upper())  # a region
        else:
            canonical.append(part)
    return "-".join(canonical)


def parse_optional(tag: str | None, *, what: str = "language") -> str | None:
    return None if tag is None else parse_language(tag, what=what)


def primary(tag: str) -> str:
    return tag.split("-", 1)[0].lower()


def _script(tag: str) -> str | None:
    found = _TAG.match(tag.lower())
    return found["script"] if found else None


def matches(text_language: str, channel_language: str) -> bool:
    """Whether text in ``text_language`` may go to a channel of ``channel_language``."""
    if primary(text_language) != primary(channel_language):
        return False
    scripts = (_script(text_language), _script(channel_language))
    return None in scripts or scripts[0] == scripts[1]


def exact(text_language: str, channel_language: str) -> bool:
    return text_language.lower() == channel_language.lower()


def describe(tag: str) -> str:
    """``German (de)``, ``German (de-CH)``; the bare tag where the name is not bundled."""
    name = ISO_639_1.get(primary(tag))
    return f"{name} ({tag})" if name else tag
