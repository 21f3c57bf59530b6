"""Numbers per language: what a Spanish or an English reader sees for a size, a duration, a speed,
a count; and `i18n.translate` writing the numbers it is given the same way, outside code spans."""
import math

import numpy
import pandas
import plotly.graph_objects as go
import pytest

from lib import formatting, i18n
from lib.formatting import chart_separators, human_bytes, human_seconds, number
from tests.plugins.apptest import table_text

NNBSP = "\u202f"  # the narrow no-break space Spanish groups thousands with


@pytest.mark.parametrize("value, spec, es, en", [
    (6.5, ".1f", "6,5", "6.5"),
    (1.75, ".1f", "1,8", "1.8"),  # rounding as Python's format: half to even on the binary value
    (2.675, ".2f", "2,67", "2.67"),  # 2.675 is stored as 2.67499...
    (0.0, ".2f", "0,00", "0.00"),
    (0, "", "0", "0"),
    (-3.25, ".1f", "-3,2", "-3.2"),
    (-0.04, ".1f", "0,0", "0.0"),  # rounded to zero: no "-0"
    (-1234.5, ",.1f", "-1234,5", "-1,234.5"),  # Spanish leaves four digits ungrouped (RAE)
    (12345.678, ",.2f", f"12{NNBSP}345,68", "12,345.68"),
    (1234567, ",", f"1{NNBSP}234{NNBSP}567", "1,234,567"),
    (-9876543, ",", f"-9{NNBSP}876{NNBSP}543", "-9,876,543"),
    (2048, ",", "2048", "2,048"),
    (10000, ",", f"10{NNBSP}000", "10,000"),
    (1234567, "", "1234567", "1234567"),  # an int without a grouping spec: the same everywhere
    (0.256, ".0%", "26%", "26%"),
    (0.125, ".1%", "12,5%", "12.5%"),
    (1.5e-7, ".2e", "1,50e-07", "1.50e-07"),
    (3e21, ".1f", "3000000000000000000000,0", "3000000000000000000000.0"),
    (None, ".1f", "—", "—"),
    (float("nan"), ".1f", "nan", "nan"),
    (float("-inf"), "", "-inf", "-inf"),
])
def test_number_in_each_language(value, spec, es, en):
    assert number(value, spec, "es") == es
    assert number(value, spec, "en") == en
    assert number(value, spec) == en  # no language: today's output


def test_numbers_from_numpy_and_pandas_are_localized_too():
    assert number(numpy.float64(6.5), ".1f", "es") == "6,5"
    assert number(numpy.int64(123456), ",", "es") == f"123{NNBSP}456"


@pytest.mark.parametrize("size, es, en", [
    (136, "136 B", "136 B"),
    (0, "0 B", "0 B"),
    (8_400, "8,4 KB", "8.4 KB"),
    (1_678_233_600, "1,7 GB", "1.7 GB"),  # gemma:2b as `ollama list` shows it
    (4_700_000_000, "4,7 GB", "4.7 GB"),
    (999_960, "1000,0 KB", "1000.0 KB"),  # the unit is chosen before rounding, as today
    (-2_500_000, "-2,5 MB", "-2.5 MB"),
    (3.2e15, "3200,0 TB", "3200.0 TB"),
    (None, "—", "—"),
    (float("nan"), "—", "—"),
])
def test_human_bytes(size, es, en):
    assert human_bytes(size, lang="es") == es
    assert human_bytes(size, lang="en") == en
    assert human_bytes(size) == en  # callers not yet passing lang keep today's output


@pytest.mark.parametrize("seconds, es, en", [
    (6.58, "6,58 s", "6.58 s"),
    (1, "1,00 s", "1.00 s"),
    (0.2696, "269,6 ms", "269.6 ms"),
    (0.0013, "1,3 ms", "1.3 ms"),
    (0, "0,0 ms", "0.0 ms"),
    (1234.5, "1234,50 s", "1234.50 s"),
    (None, "—", "—"),
    (math.nan, "—", "—"),
])
def test_human_seconds(seconds, es, en):
    assert human_seconds(seconds, lang="es") == es
    assert human_seconds(seconds, lang="en") == en
    assert human_seconds(seconds) == en


def test_chart_separators_for_plotly():
    assert chart_separators("es") == "," + NNBSP
    assert chart_separators("en") == ".,"
    assert chart_separators("fr") == ".,"  # unknown: Plotly's own default
    figure = go.Figure(go.Bar(y=[6.5]), layout={"separators": chart_separators("es")})  # Plotly accepts it
    assert figure.layout.separators == "," + NNBSP


def test_table_shows_numbers_in_the_language_and_keeps_them_numbers():
    rows = [{"Modelo": "gemma:2b", "Tamaño": 1.678, "Uso": 0.125, "Tokens": 131072},
            {"Modelo": "llava", "Tamaño": None, "Uso": 1.0, "Tokens": 2048}]
    styled = formatting.table(rows, "es", {"Tamaño": "{:.1f} GB", "Uso": "{:.1%}", "Tokens": "{:,}"})
    html = styled.to_html()
    for text in ("1,7 GB", "12,5%", "100,0%", f"131{NNBSP}072", ">2048<", "—", "gemma:2b"):
        assert text in html, text
    assert styled.data["Tamaño"].iloc[0] == 1.678  # the cell still holds the number: sorts by value
    english = formatting.table(pandas.DataFrame(rows), "en", {"Tamaño": "{:.1f} GB"}).to_html()
    assert "1.7 GB" in english and "1,7" not in english


def _table_page():
    import streamlit as st

    from lib import formatting
    rows = [{"Modelo": "gemma:2b", "Tamaño": 1.678, "Tokens": 131072}]
    st.dataframe(formatting.table(rows, "es", {"Tamaño": "{:.1f} GB", "Tokens": "{:,}"}), hide_index=True)


def test_st_dataframe_shows_the_tables_text_and_keeps_its_numbers():
    from streamlit.testing.v1 import AppTest
    app = AppTest.from_function(_table_page).run()
    # The text the browser draws: the Styler's display values, sent beside the data as Arrow.
    assert table_text(app.dataframe[0]) == [{"Modelo": "gemma:2b", "Tamaño": "1,7 GB", "Tokens": f"131{NNBSP}072"}]
    assert app.dataframe[0].value.to_dict("records") == [{"Modelo": "gemma:2b", "Tamaño": 1.678, "Tokens": 131072}]


# ---------------------------------------------------------------------------- translate
@pytest.fixture
def templates(monkeypatch):
    """A catalog of test templates, both languages, in place of the real one."""
    def use(es: str, en: str | None = None):
        fake = {"es": {"k": es}, "en": {"k": en if en is not None else es}}
        monkeypatch.setattr(i18n, "catalog", lambda lang: fake[lang])
    return use


def test_translate_writes_floats_with_the_languages_decimal_mark(templates):
    templates("{speed} tokens/s")
    assert i18n.translate("es", "k", speed=6.5) == "6,5 tokens/s"
    assert i18n.translate("en", "k", speed=6.5) == "6.5 tokens/s"
    assert i18n.translate("fr", "k", speed=6.5) == "6,5 tokens/s"  # unknown language: Spanish, numbers too


def test_translate_applies_the_templates_format_spec(templates):
    templates("{speed:.1f} tokens/s · {share:.0%} · {count:,} caracteres · {ratio:.2f}×")
    values = {"speed": 6.549, "share": 0.256, "count": 1234567, "ratio": 1.3333}
    assert i18n.translate("es", "k", **values) == f"6,5 tokens/s · 26% · 1{NNBSP}234{NNBSP}567 caracteres · 1,33×"
    assert i18n.translate("en", "k", **values) == "6.5 tokens/s · 26% · 1,234,567 caracteres · 1.33×"


def test_translate_leaves_ints_strings_and_other_values_as_they_are(templates):
    templates("{count} modelos, {name}, {done}, {missing}, {code}")
    assert i18n.translate("es", "k", count=131072, name="qwen2.5:0.5b", done=True, missing=None,
                          code="6.5") == "131072 modelos, qwen2.5:0.5b, True, None, 6.5"


def test_translate_leaves_numbers_inside_code_spans_alone(templates):
    templates("Envía `\"temperature\": {t}` y `num_ctx={n:,}`: {t} en prosa, `ollama run m` {t}")
    assert i18n.translate("es", "k", t=0.8, n=4096) == \
        "Envía `\"temperature\": 0.8` y `num_ctx=4,096`: 0,8 en prosa, `ollama run m` 0,8"


def test_translate_keeps_str_format_features(templates):
    templates("{{literal}} {value!r} {value:>6} {number:.{digits}f} {obj.real}")
    assert i18n.translate("es", "k", value="x", number=2.5, digits=2, obj=1.5) == "{literal} 'x'      x 2,50 1,5"
    with pytest.raises(KeyError):
        i18n.translate("es", "k", value="x")


def test_translate_markdown_localizes_and_still_escapes(templates):
    templates("**{speed:.1f}** tokens/s de {model}; `{model}` y `{speed}`")
    shown = i18n.translate_markdown("es", "k", speed=-6.25, model="a*b`c")
    assert shown == r"**\-6,2** tokens/s de a\*b\`c; `a*b'c` y `-6.25`"
    assert i18n.translate_markdown("en", "k", speed=6.25, model="m") == r"**6\.2** tokens/s de m; `m` y `6.25`"
