"""The lab's result views, the option reference, the experiment kept across reloads and the base vs
instruct lesson (Streamlit), kept out of pages/lab.py."""
from __future__ import annotations

import functools
import json

import streamlit as st

from lib import base_vs_instruct, charts, i18n, lab, ui, ui_persistence
from lib import options as option_reference
from lib.client import OllamaError
from lib.formatting import chart_separators
from lib.lab_runner import Experiment
from lib.safe_text import plain
from lib.ui import lang, t

# The run table's measured numbers, in the page's language: seconds to the millisecond, tokens/s to a tenth
RUN_FORMATS = {**{column: "%.3f" for column in ("load_s", "prompt_eval_s", "eval_s", "total_s", "wall_s", "other_s")},
               "tokens_per_second": "%.1f"}

EXPERIMENT = "lab.experiment"
RESTORED = "lab.restored"  # this session has looked for the browser's saved experiment


def experiment() -> Experiment | None:
    """This session's experiment; a new session (a reload, a lost connection) gets back the one this
    browser ran last, which carries on if the reload cut it short."""
    if not st.session_state.get(RESTORED):
        st.session_state[RESTORED] = True
        store, browser = ui_persistence.store(), ui_persistence.browser()
        if saved := ui_persistence.attempt("read", store.experiment, browser):
            try:
                st.session_state[EXPERIMENT] = Experiment.from_dict(saved)
            except ValueError:
                ui.flash("warning", t("lab.saved_unreadable"), icon=":material/warning:")
    return st.session_state.get(EXPERIMENT)


def save(experiment: Experiment) -> None:
    """After every recorded run, and when an experiment starts or is cancelled."""
    ui_persistence.attempt("lab", ui_persistence.store().save_experiment, ui_persistence.browser(),
                           experiment.as_dict())


def diff_markdown(pieces: list[tuple[str, str]]) -> str:
    styles = {"same": "{}", "removed": ":red-background[~~{}~~]", "added": ":green-background[{}]"}
    return " ".join(styles[tag].format(plain(words)) for tag, words in pieces)


def results(experiment: Experiment) -> None:
    """The result views, from results computed once per experiment and number of runs. The answers,
    the diff and the charts are fragments: opening a list of answers, picking a run to diff or a
    chart's tab reruns only that part. The exports are made only when clicked."""
    shown = experiment.results()
    st.header(t("lab.results"))
    columns = st.columns(min(4, len(shown.outcomes)))
    for number, outcome in enumerate(shown.outcomes):
        verdict = (t("lab.identical", n=outcome.runs) if outcome.identical
                   else t("lab.distinct", distinct=outcome.distinct, n=outcome.runs))
        columns[number % len(columns)].metric(f"{plain(outcome.model)} · {plain(outcome.condition)}", verdict,
                                              delta=t("lab.failed_runs", n=outcome.failed) if outcome.failed else None,
                                              delta_color="inverse")
    if shown.truncated:
        st.info(t("lab.truncated", num_predict=experiment.num_predict), icon=":material/content_cut:")
    _answers(shown)
    if shown.alone_vs_together or len(shown.speeds) > 1:
        _together(shown)
    if len(shown.finished) >= 2:
        _diff(shown)
    if shown.finished:
        _charts(shown)
    st.subheader(t("lab.table"))
    ui.number_table(shown.table, RUN_FORMATS)
    _exports(shown, experiment.environment)


def _compared(title_key: str, compared: list[lab.Compared]) -> None:
    """Per model and condition: did both kinds of runs give the same text?"""
    lines = [ui.t_escaped("lab.compare.same" if c.same else "lab.compare.different", model=c.model,
                          condition=c.condition, first=c.first, second=c.second) for c in compared]
    st.markdown(t(title_key) + "\n\n" + "\n".join(f"- {line}" for line in lines))


def _together(shown: lab.Results) -> None:
    """Concurrent mode: the seeded texts alone vs batched with others, and tokens/s with 1 and N at once."""
    if shown.alone_vs_together:
        _compared("lab.alone_vs_together", shown.alone_vs_together)
    st.markdown(t("lab.speeds"))
    per_request, aggregate = t("lab.speeds.per_request"), t("lab.speeds.aggregate")
    ui.number_table([{t("lab.speeds.in_flight"): s.in_flight, t("lab.speeds.requests"): s.requests,
                      per_request: s.per_request, aggregate: s.aggregate} for s in shown.speeds],
                    {per_request: "%.1f", aggregate: "%.1f"})


@st.fragment
def _answers(shown: lab.Results) -> None:
    for number, (outcome, answers) in enumerate(zip(shown.outcomes, shown.answers)):
        panel = st.expander(ui.t_escaped("lab.outputs", model=outcome.model, condition=outcome.condition,
                                         distinct=outcome.distinct), key=f"lab.outputs.{number}.open", on_change="rerun")
        if panel.open:  # built only while open: an unseeded condition has as many answers as runs
            with panel:
                for text, count in answers:
                    st.markdown(f"**{count}×**")
                    st.text(text)


@st.fragment
def _diff(shown: lab.Results) -> None:
    st.subheader(t("lab.diff"))
    numbers = list(shown.finished)
    left, right = st.columns(2)
    a = left.selectbox(t("lab.diff_a"), numbers, format_func=shown.finished.get, key="lab.diff_a")
    b = right.selectbox(t("lab.diff_b"), numbers, index=len(numbers) - 1, format_func=shown.finished.get,
                        key="lab.diff_b")
    pieces = lab.word_diff(shown.runs[a - 1].text, shown.runs[b - 1].text)
    st.markdown(diff_markdown(pieces) if any(tag != "same" for tag, _ in pieces) else t("lab.diff_same"))


@st.fragment
def _charts(shown: lab.Results) -> None:
    """One chart per tab, drawn only while its tab is open; switching tabs reruns this fragment
    alone, and each chart is built once per experiment (`shown.chart`)."""
    labels = {"load_s": t("lab.phase.load"), "prompt_eval_s": t("lab.phase.prompt"),
              "eval_s": t("lab.phase.eval"), "other_s": t("lab.phase.other"),
              "seconds": t("lab.seconds"), "cold": t("lab.cold_label"), "warm": t("lab.warm_label"),
              "load_seconds": t("lab.load_seconds"), "wall": t("lab.wall"),
              "separators": chart_separators(lang())}  # 6,5 on a Spanish chart's axes
    timing, speed, cold, models = st.tabs([t("lab.chart.timing"), t("lab.chart.speed"), t("lab.chart.cold"),
                                           t("lab.chart.models")], key="lab.chart", on_change="rerun")
    if timing.open:
        timing.plotly_chart(shown.chart(charts.timing, labels), key="lab.chart.timing")
        timing.caption(t("lab.chart.timing_help"))
    if speed.open:
        speed.plotly_chart(shown.chart(charts.speed, labels), key="lab.chart.speed")
    if cold.open and shown.cold_and_warm:
        cold.plotly_chart(shown.chart(charts.cold_and_warm, labels), key="lab.chart.cold")
        with cold:
            _compared("lab.cold_vs_warm", shown.cold_vs_warm)
    elif cold.open:
        cold.caption(t("lab.chart.cold_help"))
    if models.open:
        models.plotly_chart(shown.chart(charts.models_compared, labels), key="lab.chart.models")


def _exports(shown: lab.Results, environment: dict) -> None:
    """The files are made only when their button is clicked (outside this script run: the
    sheet's texts are bound to this session's language now)."""
    language = lang()
    sheet_labels = {k: t(f"lab.sheet.{k}") for k in ("title", "prompt", "model", "condition", "options",
                                                     "result", "speed", "version", "digest", "processor",
                                                     "context_length", "effective")}
    sheet_labels["lang"] = language  # the sheet's numbers are written the way this language writes them
    sheet_labels.update({k: functools.partial(i18n.translate, language, f"lab.sheet.{k}")
                         for k in ("identical", "distinct", "failed")})
    exports = st.columns(3)
    exports[0].download_button("CSV", lambda: shown.table.to_csv(index=False), "lab.csv", mime="text/csv",
                               icon=":material/download:", on_click="ignore", key="lab.export.csv")
    exports[1].download_button("JSON", lambda: lab.export_json(shown.prompt, shown.runs), "lab.json",
                               mime="application/json", icon=":material/download:", on_click="ignore",
                               key="lab.export.json")
    exports[2].download_button(t("lab.sheet"),
                               lambda: lab.lab_sheet(shown.prompt, shown.runs, sheet_labels, environment), "lab.md", mime="text/markdown", icon=":material/description:", on_click="ignore",
                               key="lab.export.sheet")


def _parameters(model: str | None) -> dict | None:
    """The model's Modelfile PARAMETERs (cached /api/show), or None when they cannot be asked."""
    listed = next((m for m in ui.installed_tags()[0].get("models") or [] if m.get("name") == model), None) \
        if model else None
    if listed is None:
        return None
    try:
        return option_reference.model_parameters(ui.model_show(model, listed.get("digest") or "")[0])
    except OllamaError:
        return None


def reference(model: str | None = None) -> None:
    """Today's options (with what runs on `model` when nothing is sent: server default <- its
    PARAMETERs) and the course's table."""
    st.markdown(t("lab.reference.current"))
    parameters = _parameters(model)
    effective = option_reference.effective_options(parameters or {}, {})
    rows = []
    for o in option_reference.CURRENT:
        row = {t("lab.col.option"): o.name, t("lab.col.type"): o.type,
               t("lab.col.default"): "—" if o.default is None else str(o.default)}
        if parameters is not None:
            value, source = effective[o.name]
            row[t("lab.col.effective", model=model)] = "—" if value is None else \
                f"{json.dumps(value, ensure_ascii=False)} ({t(f'lab.source.{source}')})"
        rows.append({**row, t("lab.col.meaning"): t(o.meaning_key)})
    st.dataframe(rows, hide_index=True, width="stretch")
    st.markdown(t("lab.reference.course"))
    st.dataframe([{"#": r.no, t("lab.col.option"): r.name, t("lab.col.course_value"): r.course_value,
                   t("lab.col.course_text"): r.course_text,
                   t("lab.col.status"): t("lab.status.removed", version=r.removed_in) if r.removed_in else t("lab.status.current"),
                   t("lab.col.verdict"): t(f"lab.verdict.{r.verdict}"),
                   t("lab.col.meaning"): t(r.meaning_key)} for r in option_reference.course_table()],
                 hide_index=True, width="stretch")


# ------------------------------------------------------------------ the base vs instruct lesson
LESSON = "lab.lesson"  # the last comparison, kept while the session lasts


@st.fragment
def lesson(client, names: list[str]) -> None:
    """The same prompt to an instruct and a base model, side by side, and why one ends its turn.
    A fragment: its widgets and its button rerun only the lesson."""
    st.markdown(t("lab.lesson.intro"))
    for kind, default in zip(base_vs_instruct.KINDS, base_vs_instruct.default_pair(names)):
        if st.session_state.get(f"lab.setting.lesson_{kind}") not in names:  # first visit, or gone
            st.session_state[f"lab.setting.lesson_{kind}"] = default
    prompt = st.text_input(t("lab.lesson.prompt"), key=ui.setting(
        "lab", "lesson_prompt", base_vs_instruct.PROMPT_ES if lang() == "es" else base_vs_instruct.PROMPT_EN))
    row = st.columns([2, 2, 1])
    instruct = row[0].selectbox(t("lab.lesson.instruct"), names, key="lab.setting.lesson_instruct")
    base = row[1].selectbox(t("lab.lesson.base"), names, key="lab.setting.lesson_base")
    num_predict = row[2].number_input(t("lab.lesson.num_predict"), min_value=1, max_value=1024, step=8,
                                      key=ui.setting("lab", "lesson_num_predict", base_vs_instruct.NUM_PREDICT))
    if st.button(t("lab.lesson.run"), key="lab.lesson.run", icon=":material/compare_arrows:", disabled=not names):
        try:
            with st.spinner(t("lab.lesson.running")):
                st.session_state[LESSON] = base_vs_instruct.compare(client, prompt, instruct, base, num_predict)
        except base_vs_instruct.LessonRefused as refused:
            st.error(t(refused.key, **refused.values), icon=":material/error:")
    if comparison := st.session_state.get(LESSON):
        _comparison(comparison)
    st.markdown(t("lab.lesson.why"))
    st.caption(t("lab.lesson.small"))


def _comparison(comparison: base_vs_instruct.Comparison) -> None:
    for column, answer in zip(st.columns(len(comparison.answers)), comparison.answers):
        with column:
            st.subheader(plain(answer.model))
            st.caption(t(f"lab.lesson.kind.{answer.kind}"))
            if answer.error is not None:
                ui.show_error(answer.error, key=f"lab.lesson.{answer.kind}")
                continue
            done = answer.generation
            figures = st.columns(3)
            figures[0].metric("done_reason", plain(done.done_reason or "—"), help=t("lab.lesson.done_reason"))
            figures[1].metric("prompt_eval_count", "—" if done.prompt_tokens is None else done.prompt_tokens,
                              help=t("lab.lesson.prompt_tokens"))
            figures[2].metric("eval_count", "—" if done.output_tokens is None else done.output_tokens,
                              help=t("lab.lesson.output_tokens"))
            if done.done_reason == "stop":
                st.success(t("lab.lesson.reason.stop"), icon=":material/check_circle:")
            elif done.done_reason == "length":
                st.warning(t("lab.lesson.reason.length", num_predict=comparison.num_predict), icon=":material/content_cut:")
            else:
                st.info(ui.t_escaped("lab.lesson.reason.other", reason=done.done_reason or "—"), icon=":material/info:")
            st.text(answer.text)
            if answer.exchange is not None:
                ui.show_http(answer.exchange, key=f"lab.lesson.{answer.kind}.http")
