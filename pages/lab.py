"""5. Options and seed lab: the same prompt many times, identical or not, and where the time goes."""
import time

import streamlit as st

from lib import lab, options as option_reference, ui, ui_lab
from lib.client import CannotConnect, ModelNotFound, OllamaError, RequestTimeout

ui.ensure_app_frame()
t = ui.t
ui.page_title("lab")
client = ui.client()
RUNS, PLAN, NEXT, SETTINGS, RUNNER = "lab.runs", "lab.plan", "lab.next", "lab.experiment", "lab.runner"
runs: list[lab.Run] = st.session_state.setdefault(RUNS, [])

# ------------------------------------------------------------------------------ experiment
names = ui.installed_model_names("lab.tags")
st.session_state["lab.setting.models"] = [m for m in st.session_state.get("lab.setting.models", []) if m in names] \
    or names[:1]

st.header(t("lab.build"))
prompt = st.text_area(t("lab.prompt"), height=70, key=ui.setting(
    "lab", "prompt", lab.DEFAULT_PROMPT_ES if ui.lang() == "es" else lab.DEFAULT_PROMPT_EN))
row = st.columns([3, 1, 1])
models = row[0].multiselect(t("lab.models"), names, key="lab.setting.models", help=t("lab.models_help"))
repetitions = row[1].number_input(t("lab.repetitions"), min_value=0, max_value=100, step=1,
                                  key=ui.setting("lab", "repetitions", 5), help=t("lab.repetitions_help"))
num_predict = row[2].number_input("num_predict", min_value=1, max_value=4096, step=8,
                                  key=ui.setting("lab", "num_predict", 48), help=t("lab.num_predict_help"))
ready = st.multiselect(t("lab.ready"), list(lab.READY_MADE), key=ui.setting("lab", "ready", list(lab.READY_MADE)),
                       format_func=ui.labels("lab.condition."), help=t("lab.ready_help"))
with st.expander(t("lab.sweep"), icon=":material/linear_scale:"):
    sweep_cols = st.columns([2, 3, 2])
    sweep_option = sweep_cols[0].selectbox(t("lab.sweep_option"), [None, "temperature", "top_k", "top_p",
                                           "min_p", "repeat_penalty", "seed", "num_ctx"],
                                           key="lab.setting.sweep_option",
                                           format_func=lambda o: o or t("lab.sweep_none"))
    sweep_values = sweep_cols[1].text_input(t("lab.sweep_values"), key="lab.setting.sweep_values",
                                            placeholder="0, 0.4, 0.8, 1.2")
    sweep_seed = sweep_cols[2].number_input(t("lab.sweep_seed"), value=None, step=1, min_value=0,
                                            key="lab.setting.sweep_seed", placeholder=t("lab.sweep_no_seed"),
                                            help=t("lab.sweep_seed_help"))
with st.expander(t("lab.custom"), icon=":material/edit_note:"):
    custom_text = st.text_area(t("lab.custom_conditions"), key="lab.setting.custom", height=90,
                               placeholder='top_k 5: {"top_k": 5, "seed": 7}\nnum_ctx 512: {"num_ctx": 512, "seed": 123, "temperature": 0}',
                               help=t("lab.custom_help"))
alternate = st.toggle(t("lab.cold"), key="lab.setting.cold", help=t("lab.cold_help"))

conditions = [lab.Condition(t(f"lab.condition.{c.name}"), c.options) for c in lab.ready_made(ready)]
problems = []
if sweep_option:
    try:
        conditions += lab.sweep(sweep_option, lab.parse_values(sweep_values or ""),
                                int(sweep_seed) if sweep_seed is not None else None)
    except ValueError:
        problems.append(t("lab.sweep_invalid", values=sweep_values or ""))
custom, custom_problems = lab.parse_custom(custom_text or "")
conditions += custom
problems += [t(p.key, **p.values) for p in custom_problems]
problems += [t(p.key, **p.values) for c in conditions for p in option_reference.check(c.options)]
for problem in problems:
    st.warning(problem, icon=":material/warning:")


def start() -> None:
    try:
        planned = lab.plan(prompt, models, conditions, int(repetitions))
    except lab.PlanRefused as refused:
        st.session_state["lab.refused"] = refused
        return
    runs.clear()
    st.session_state.update({PLAN: planned, NEXT: 0, SETTINGS: {
        "prompt": prompt, "num_predict": int(num_predict), "alternate": alternate}})


def cancel() -> None:
    st.session_state["lab.cancelled"] = (st.session_state.get(NEXT, 0), len(st.session_state.get(PLAN, [])))
    st.session_state.pop(PLAN, None)


# Not a callback: the plan must use this run's values of every widget above.
if st.button(t("lab.run"), type="primary", icon=":material/play_arrow:",
             disabled=bool(problems) or not names, key="lab.start"):
    start()
if refused := st.session_state.pop("lab.refused", None):
    st.error(t(refused.key, **refused.values), icon=":material/error:")
if cancelled := st.session_state.pop("lab.cancelled", None):
    st.warning(t("lab.cancelled", done=cancelled[0], total=cancelled[1]), icon=":material/cancel:")


# ------------------------------------------------------------------------------ running
def run_plan() -> None:
    """Run what is left of the plan. Results are stored run by run, so an error, Cancel or a
    visit to another page loses nothing; coming back to this page carries on. Streamlit 1.67 may
    start the next script run before this one stops: the newest run owns the plan (`RUNNER`)."""
    planned, settings = st.session_state[PLAN], st.session_state[SETTINGS]
    owner = st.session_state[RUNNER] = object()
    st.button(t("lab.cancel"), on_click=cancel, icon=":material/cancel:", key="lab.cancel")
    bar, gone = st.progress(0.0), set()
    while (index := st.session_state[NEXT]) < len(planned):
        step = planned[index]
        bar.progress(index / len(planned), text=t("lab.progress", run=index + 1, total=len(planned),
                     model=step.model, condition=step.condition.name, repetition=step.repetition))
        chosen = {**step.condition.options, "num_predict": settings["num_predict"]}
        cold = settings["alternate"] and step.repetition % 2 == 1
        started, stop = None, False
        try:
            if step.model in gone:
                raise ModelNotFound(t("lab.skipped"), 404, step.model)
            if cold:
                client.unload(step.model)
            started = time.perf_counter()
            answer = client.generate(step.model, settings["prompt"], stream=False, options=chosen)
            result = lab.finished_run(step, chosen, cold, answer, time.perf_counter() - started)
        except OllamaError as error:
            result = lab.failed_run(step, chosen, cold, error.message,
                                    time.perf_counter() - started if started else None)
            if isinstance(error, ModelNotFound):
                gone.add(step.model)  # the rest of its runs are marked failed without asking again
            if isinstance(error, (CannotConnect, RequestTimeout)):
                st.session_state["lab.error"], stop = error, True
        if st.session_state.get(RUNNER) is not owner or st.session_state.get(PLAN) is not planned:
            return  # a newer run took over (or Cancel): it does this step itself
        runs.append(result)
        st.session_state[NEXT] = index + 1
        if stop:
            break
    st.session_state.pop(PLAN, None)
    st.rerun()


if st.session_state.get(PLAN):
    run_plan()
if error := st.session_state.pop("lab.error", None):
    ui.show_error(error, key="lab.error")
    st.info(t("lab.kept", count=len(runs)), icon=":material/save:")

# ------------------------------------------------------------------------------ results
if runs:
    ui_lab.results(st.session_state[SETTINGS]["prompt"], runs)

with st.expander(t("lab.reference"), icon=":material/menu_book:"):
    ui_lab.reference()
