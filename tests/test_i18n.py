"""Both catalogs complete: same keys, same placeholders, and every key the code asks for exists; and
the words the 2026-11 teaching audit retired stay out."""
import json
import pathlib
import re
import string

import pytest

from lib import i18n
from lib.diagnosis import Diagnosis

ROOT = pathlib.Path(__file__).resolve().parent.parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_same_keys_in_both_languages():
    es, en = i18n.catalog("es"), i18n.catalog("en")
    assert sorted(set(es) ^ set(en)) == []
    assert [p.name for p in i18n.catalog_files("es")] == [p.name for p in i18n.catalog_files("en")]


def test_no_key_in_two_files():
    for lang in i18n.LANGUAGES:
        seen = {}
        for path in i18n.catalog_files(lang):
            for key in json.loads(path.read_text(encoding="utf-8")):
                assert key not in seen, f"{key} in {seen.get(key)} and {path.name}"
                seen[key] = path.name


def test_same_placeholders_and_no_empty_text():
    es, en = i18n.catalog("es"), i18n.catalog("en")
    for key in es:
        assert es[key].strip() and en[key].strip(), key
        assert placeholders(es[key]) == placeholders(en[key]), key


def keys_in_code() -> set[str]:
    pattern = re.compile(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_0-9]+)+|yes|no)["']""")
    found = set()
    for path in list((ROOT / "lib").rglob("*.py")) + list((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]:
        found |= set(pattern.findall(path.read_text(encoding="utf-8")))
    for path in (ROOT / "lib").rglob("*.py"):  # keys held in data: Check(..., "check.x.y"), PATTERNS
        found |= set(re.findall(r'"((?:check|log)\.[a-z_]+(?:\.[a-z_]+)?)"', path.read_text()))
    return found


def test_every_literal_key_in_the_code_exists():
    missing = sorted(k for k in keys_in_code() if k not in i18n.catalog("en"))
    assert len(keys_in_code()) > 60
    assert missing == []


@pytest.mark.parametrize("kind", ["host_empty", "host_spaces", "host_scheme", "host_port",
                                  "host_not_allowed", "refused", "dns", "unreachable",
                                  "timeout_connect", "timeout_read", "not_ollama", "model_not_found",
                                  "out_of_memory", "stream_error", "malformed", "http_error", "unknown"])
def test_every_diagnosis_has_both_texts(kind):
    diagnosis = Diagnosis(kind, "detail")
    for lang in i18n.LANGUAGES:
        assert diagnosis.title_key in i18n.catalog(lang) and diagnosis.advice_key in i18n.catalog(lang)


def test_translate_fills_placeholders_and_survives_a_missing_key():
    assert i18n.translate("en", "badge.up", version="0.33.0", latency="12") == "Ollama 0.33.0 · 12 ms"
    assert i18n.translate("es", "age.past", amount=41, unit="segundos") == "hace 41 segundos"
    assert i18n.translate("en", "no.such.key") == "no.such.key"
    assert i18n.translate("fr", "yes") == "Sí"  # unknown language: Spanish, the course's


@pytest.mark.parametrize("query, locale, expected", [
    ("en", "es-ES", "en"), ("es", "en-US", "es"), (None, "en-GB", "en"), (None, "es-MX", "es"),
    (None, "de-DE", "es"), ("xx", None, "es"), (None, "EN_us", "en"),
])
def test_language_choice(query, locale, expected):
    assert i18n.pick_language(query, locale) == expected


# ---------------------------------------------------------------------------- words the audit retired
# teaching-audit-2026-11.md §3: one term per concept, neutral Latin American Spanish, and the English
# reviewed the same way. Each rule: (what, pattern, the fix); a failure lists every file, key and match.
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)


def prose(text: str) -> str:
    """The text with its code spans and fenced blocks blanked out (`·`): code keeps its own words."""
    return CODE_SPAN.sub("`·`", text)


def files_by_key(lang: str) -> dict[str, str]:
    return {key: path.name for path in i18n.catalog_files(lang)
            for key in json.loads(path.read_text(encoding="utf-8"))}


RETIRED_ES = [
    ("dashboard", r"\bdashboards?\b", "«panel»"),
    ("palabra a palabra", r"\bpalabra a palabra\b", "a stream sends tokens: «token a token»"),
    ("billón", r"\bbill[oó]n(es)?\b", "a billón is 10^12: «mil millones», «500 millones»"),
    ("Pulsa", r"\bpuls[ae]\b", "«Presiona»"),
    ("Haz una foto", r"\b(haz|hacer|hace)\s+(una\s+)?fotos?\b", "«Toma una foto»"),
    ("Coste", r"\bcostes?\b", "«Costo»"),
    ("portátil", r"(?<!computadora )(?<!computadoras )\bport[aá]til(es)?\b", "«laptop», «computadora portátil»"),
    ("coma flotante", r"\bcoma flotante\b", "«punto flotante»"),
    ("librería", r"\blibrer[ií]as?\b", "«biblioteca»"),
    ("driver", r"\bdrivers?\b", "«controlador»"),
    ("orden (command)", r"\b(la|una|esta|esa)\s+orden\b|\b(las|unas|estas|esas)\s+[oó]rdenes\b|\b[oó]rden(es)?\s+`",
     "«el comando»"),
    ("parenthesised plural", r"\w\((s|es|as|os|a)\)", "a plural form: «1 modelo» / «3 modelos»"),
    ("acronym plural", r"(?-i:\b[A-Z]{2,}s\b)", "acronyms take no -s: «las URL», «las API»"),
    ("evaluación de la entrada", r"\bevaluaci[oó]n de la entrada\b", "«evaluación del prompt»"),
]
RETIRED_EN = [
    ("word by word", r"\bword[- ]by[- ]word\b", "a stream sends tokens: token by token"),
    ("half-billion", r"\bhalf-billion\b", "0.5B (half a billion parameters)"),
]
BOTH = [("of bytes", r"(\}|\b[KMGT]?i?B)\s+(of|de)\s+bytes\b", "the size already says bytes: «into {size}»")]
# Patterns match case-insensitively outside code spans. A rule's word where it is right. lib.lab.word_diff compares the answers word by word.
RIGHT_HERE = {("palabra a palabra", "lab.diff"), ("word by word", "lab.diff")}


def retired(text: str, rules, key: str = "") -> list[tuple[str, str, str]]:
    """(what, the words found, the fix) for every rule `text` breaks outside its code spans."""
    return [(what, match.group(0), fix) for what, pattern, fix in rules
            for match in re.finditer(pattern, prose(text), re.I)
            if (what, key) not in RIGHT_HERE]


@pytest.mark.parametrize("text, caught", [
    ("Este dashboard; los Dashboards", ["dashboard", "dashboard"]),
    ("la respuesta llega palabra a palabra", ["palabra a palabra"]),
    ("de medio billón; dos billones", ["billón", "billón"]),
    ("Pulsa Intro; pulse el botón", ["Pulsa", "Pulsa"]),
    ("Haz una foto; hacer fotos", ["Haz una foto", "Haz una foto"]),
    ("Coste por uso; costes controlados", ["Coste", "Coste"]),
    ("en un portátil; ideal para portátiles", ["portátil", "portátil"]),
    ("en coma flotante de 16 bits", ["coma flotante"]),
    ("librerías de CUDA; la librería", ["librería", "librería"]),
    ("sin driver; los drivers", ["driver", "driver"]),
    ("con la orden `base64`; esas órdenes; orden `ls`", ["orden (command)", "orden (command)", "orden (command)"]),
    ("{count} modelo(s) instalado(s); La(s) frase(s)", ["parenthesised plural"] * 4),
    ("las URLs y las APIs; GPUs", ["acronym plural"] * 3),
    ("Evaluación de la entrada", ["evaluación de la entrada"]),
    ("en {size} de bytes; 3.6 KB de bytes", ["of bytes", "of bytes"]),
])
def test_each_spanish_rule_catches_its_words(text, caught):
    assert [what for what, _, _ in retired(text, RETIRED_ES + BOTH)] == caught


@pytest.mark.parametrize("text", [
    "token a token; el panel; mil millones; Presiona Enter; Toma una foto; fotos en JPEG; Costo",
    "una computadora portátil; en punto flotante; la biblioteca; el controlador NVIDIA",
    "el comando `base64`; en orden; el orden de los mensajes; de orden superior",
    "1 modelo, 3 modelos; (s) suelto; `modelo(s)` en código; las URL, las API, los LLM; una URL",
    "tamaño en bytes; el número de bytes; `nvidia driver` en el registro; `dashboard.py`",
])
def test_spanish_rules_leave_the_right_words_alone(text):
    assert retired(text, RETIRED_ES + BOTH) == []


def test_english_rules():
    assert [what for what, _, _ in retired("arrives word by word, a half-billion model, {size} of bytes",
                                           RETIRED_EN + BOTH)] == ["word by word", "half-billion", "of bytes"]
    assert retired("token by token, half a billion parameters, a number of bytes", RETIRED_EN + BOTH) == []
    assert retired("Word-by-word differences", RETIRED_EN, key="lab.diff") == []


def offences(lang: str, rules) -> list[str]:
    files = files_by_key(lang)
    return [f"{lang}/{files[key]} {key}: «{found}» ({what} -> {fix})"
            for key, text in i18n.catalog(lang).items() for what, found, fix in retired(text, rules, key)]


@pytest.mark.parametrize("lang, rules", [("es", RETIRED_ES + BOTH), ("en", RETIRED_EN + BOTH)],
                         ids=["es", "en"])
def test_no_retired_word(lang, rules):
    found = offences(lang, rules)
    assert not found, f"{len(found)} retired words:\n" + "\n".join(found)


UNLOAD_ES = re.compile(r"\bdescarg\w*(\s+\w+){0,3}\s+de\s+(la\s+)?(memoria|RAM|VRAM|GPU)\b", re.I)


def unloading(es: str, en: str) -> bool:
    """A Spanish «descarg…» that means unloading: its English says unload, or it is
    «descargar(lo) … de memoria»."""
    return bool(re.search(r"\bdescarg", prose(es), re.I)
                and (re.search(r"\bunload", prose(en), re.I) or UNLOAD_ES.search(prose(es))))


@pytest.mark.parametrize("es, en, expected", [
    ("Descargar de memoria", "Unload", True),
    ("0 (descargarlo ya)", "0 (unload now)", True),
    ("empiezan con el modelo descargado", "start with the model unloaded", True),
    ("descargarlo de la memoria", "free it", True),
    ("0 (sacarlo de memoria ya)", "0 (unload now)", False),
    ("Descargar el JSON completo", "Download the full JSON", False),
    ("Descarga uno y vuelve: cabe en la memoria", "Pull one, then come back: it fits in memory", False),
])
def test_unloading_finder(es, en, expected):
    assert unloading(es, en) is expected


def test_descargar_only_for_pulling_and_files():
    """«descargar» is pulling a model or downloading a file; unloading is «sacar de memoria» / «liberar»."""
    es, en, files = i18n.catalog("es"), i18n.catalog("en"), files_by_key("es")
    found = [f"es/{files[key]} {key}: {es[key]!r}" for key in es if unloading(es[key], en[key])]
    assert not found, "«descargar» used for unloading (-> «sacar de memoria», «liberar»):\n" + "\n".join(found)


def test_prompt_is_the_prompt_fields_name():
    """The field is «prompt» in both languages, not «Instrucción» (audit §3b; «evaluación de la entrada» is
    in RETIRED_ES)."""
    es, en, files = i18n.catalog("es"), i18n.catalog("en"), files_by_key("es")
    found = [f"es/{files[key]} {key}: {es[key]!r}" for key in es
             if re.search(r"\bprompt\b", en[key], re.I) and re.search(r"\binstrucci[oó]n\b", prose(es[key]), re.I)]
    assert not found, "«Instrucción» for the prompt (-> «prompt»):\n" + "\n".join(found)


# ---------------------------------------------------------------------------- decimal comma
# A decimal number in Spanish prose: not part of a dotted series (IP, 0.7.0), a tag (qwen2.5:0.5b), a
# name (qwen2.5), a host:port or a path, nor in a code span; with its unit when it has one.
DECIMAL = re.compile(r"(?<![\w.:/-])\d+\.\d+(?![.\d]*\.\d)(?![\w.-]*/)(?!:\S)(?!\w*[.:]\w)"
                     r"(?P<unit>\s?(?:[KMGT]i?B|B|[KMBT]|k|s|ms|min|h|%|×|x|tokens?|millones|mil)(?!\w))?")
# A version, not a quantity: after its name ("Ollama 0.6", "Llama 3.2", "Mirostat 2.0", "sección 6.7",
# "Ollama anterior a 0.6", "§6.2") or after «la» standing for «la versión» ("gemma se actualizó a la 1.1").
VERSIONED = re.compile(r"(\b(Ollama|versi[oó]n(es)?|v|Llama|Qwen|Gemma|Phi|Mirostat|Python|CUDA|Streamlit|"
                       r"Docker|llava|secci[oó]n(es)?|cap[ií]tulo)\b(\s+[^\s\d]+){0,2}\s+|\bla\s+|§\s*)$", re.I)


def decimal_points(text: str) -> list[str]:
    body = prose(text)
    return [match.group(0).strip() for match in DECIMAL.finditer(body)
            if match.group("unit") or not VERSIONED.search(body[max(0, match.start() - 40):match.start()])]


@pytest.mark.parametrize("text, expected", [
    ("llava (4.7 GB) o moondream (1,7 GB)", ["4.7 GB"]),
    ("Phi-3 Mini: 3.8B muy capaz; Solar (10.7B)", ["3.8B", "10.7B"]),
    ("1.0 lo desactiva", ["1.0"]),
    ("`1.0` lo desactiva; 1,0 también", []),
    ("Ollama 0.1.32, la versión 0.7.0 y Ollama anterior a 0.6; Llama 3.2 de 1B, Qwen 2.5", []),
    ("escucha en 127.0.0.1 o 0.0.0.0, toda la red; `qwen2.5:0.5b`; qwen2.5:0.5b; gemma3:4b", []),
    ("Llama 3.2 de 1.5 GB", ["1.5 GB"]),  # a version name nearby does not excuse a quantity
    ("la sección 6.7 del curso (§6.2, § 6.3); gemma se actualizó a la 1.1; el de hoy es la 1.6", []),
    ("1.0: sin penalización; antes era 1.1, y «por defecto: 0.8»", ["1.0", "1.1", "0.8"]),
    ("https://ollama.com/library/llama3.2", []),
])
def test_decimal_point_finder(text, expected):
    assert decimal_points(text) == expected


def test_spanish_prose_uses_the_decimal_comma():
    es, files = i18n.catalog("es"), files_by_key("es")
    found = [f"es/{files[key]} {key}: {number}" for key, text in es.items() for number in decimal_points(text)]
    assert not found, "decimal point in Spanish prose (-> «4,7 GB», or `1.0` in a code span if typed):\n" + \
        "\n".join(found)


def test_same_format_specs_in_both_languages():
    """Numbers are formatted by translate from the template's spec: both languages round alike."""
    def fields(text: str) -> set:
        return {(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text) if name}
    es, en = i18n.catalog("es"), i18n.catalog("en")
    assert [key for key in es if fields(es[key]) != fields(en[key])] == []
