"""The lab's result views and the option reference (Streamlit), kept out of pages/lab.py."""
from __future__ import annotations

import re

import streamlit as st

from lib import charts, lab
from lib import options as option_reference
from lib.ui import t

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>:$])")


def escape(text: str) -> str:
    """Model output shown inside our own Markdown (the diff) must not format itself."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def diff_markdown(pieces: list[tuple[str, str]]) -> str:
    styles = {"same": "{}", "removed": ":red-background[~~{}~~]", "added": ":green-background[{}]"}
    return " ".join(styles[tag].format(escape(words)) for tag, words in pieces)


def results(prompt: str, runs: list[lab.Run]) -> None:
    st.header(t("lab.results"))
    outcomes = lab.outcomes(runs)
    columns = st.columns(min(4, len(outcomes)))
    for number, outcome in enumerate(outcomes):
        verdict = (t("lab.identical", n=outcome.runs) if outcome.identical
                   else t("lab.distinct", distinct=outcome.distinct, n=outcome.runs))
        columns[number % len(columns)].metric(f"{outcome.model} · {outcome.condition}", verdict,
                                              delta=t("lab.failed_runs", n=outcome.failed) if outcome.failed else None,
                                              delta_color="inverse")
    for outcome in outcomes:
        texts = [r.text for r in runs if (r.model, r.condition) == (outcome.model, outcome.condition) and r.ok]
        with st.expander(t("lab.outputs", model=outcome.model, condition=outcome.condition,
                           distinct=outcome.distinct)):
            for text, count in lab.groups(texts):
                st.markdown(f"**{count}×**")
                st.text(text)
    frame = lab.table(runs)
    finished = frame[frame["ok"]]
    if len(finished) >= 2:
        st.subheader(t("lab.diff"))
        labels = {row.run: f"#{row.run} {row.model} · {row.condition} · {row.repetition}" for row in finished.itertuples()}
        left, right = st.columns(2)
        a = left.selectbox(t("lab.diff_a"), list(labels), format_func=labels.get, key="lab.diff_a")
        b = right.selectbox(t("lab.diff_b"), list(labels), index=len(labels) - 1, format_func=labels.get,
                            key="lab.diff_b")
        pieces = lab.word_diff(runs[a - 1].text, runs[b - 1].text)
        st.markdown(diff_markdown(pieces) if any(tag != "same" for tag, _ in pieces) else t("lab.diff_same"))
    if len(finished):
        chart_labels = {"load_s": t("lab.phase.load"), "prompt_eval_s": t("lab.phase.prompt"),
                        "eval_s": t("lab.phase.eval"), "other_s": t("lab.phase.other"),
                        "seconds": t("lab.seconds"), "cold": t("lab.cold_label"), "warm": t("lab.warm_label"),
                        "load_seconds": t("lab.load_seconds"), "wall": t("lab.wall")}
        tabs = st.tabs([t("lab.chart.timing"), t("lab.chart.speed"), t("lab.chart.cold"), t("lab.chart.models")])
        with tabs[0]:
            st.plotly_chart(charts.timing(frame, chart_labels), key="lab.chart.timing")
            st.caption(t("lab.chart.timing_help"))
        with tabs[1]:
            st.plotly_chart(charts.speed(frame, chart_labels), key="lab.chart.speed")
        with tabs[2]:
            if finished["cold"].nunique() < 2:
                st.caption(t("lab.chart.cold_help"))
            else:
                st.plotly_chart(charts.cold_and_warm(frame, chart_labels), key="lab.chart.cold")
        with tabs[3]:
            st.plotly_chart(charts.models_compared(frame, chart_labels), key="lab.chart.models")
    st.subheader(t("lab.table"))
    st.dataframe(frame, hide_index=True, width="stretch")
    sheet_labels = {k: t(f"lab.sheet.{k}") for k in ("title", "prompt", "model", "condition", "options",
                                                     "result", "speed")}
    sheet_labels.update({k: (lambda key: lambda **n: t(f"lab.sheet.{key}", **n))(k)
                         for k in ("identical", "distinct", "failed")})
    exports = st.columns(3)
    exports[0].download_button("CSV", frame.to_csv(index=False), "lab.csv", mime="text/csv",
                               icon=":material/download:", on_click="ignore")
    exports[1].download_button("JSON", lab.export_json(prompt, runs), "lab.json", mime="application/json",
                               icon=":material/download:", on_click="ignore")
    exports[2].download_button(t("lab.sheet"), lab.lab_sheet(prompt, runs, sheet_labels), "lab.md",
                               mime="text/markdown", icon=":material/description:", on_click="ignore")


def reference() -> None:
    st.markdown(t("lab.reference.current"))
    st.dataframe([{t("lab.col.option"): o.name, t("lab.col.type"): o.type,
                   t("lab.col.default"): "—" if o.default is None else str(o.default),
                   t("lab.col.meaning"): t(o.meaning_key)} for o in option_reference.CURRENT],
                 hide_index=True, width="stretch")
    st.markdown(t("lab.reference.course"))
    st.dataframe([{"#": r.no, t("lab.col.option"): r.name, t("lab.col.course_value"): r.course_value,
                   t("lab.col.course_text"): r.course_text,
                   t("lab.col.status"): t("lab.status.removed", version=r.removed_in) if r.removed_in else t("lab.status.current"),
                   t("lab.col.verdict"): t(f"lab.verdict.{r.verdict}"),
                   t("lab.col.meaning"): t(r.meaning_key)} for r in option_reference.course_table()],
                 hide_index=True, width="stretch")
