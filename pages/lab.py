"""5. Options and seed lab: the same prompt many times, identical or not, and where the time goes."""
import streamlit as st

from lib import lab, options as option_reference, ui, ui_lab, ui_persistence
from lib.lab_runner import Experiment

ui.ensure_app_frame()
t = ui.t
ui.page_title("lab")
client = ui.client()
experiment = ui_lab.experiment()  # after a reload: the one this browser ran last

# ------------------------------------------------------------------------------ experiment
names = ui.installed_model_names("lab.tags")
st.session_state["lab.setting.models"] = [m for m in st.session_state.get("lab.setting.models", []) if m in names] \
    or names[:1]

st.header(t("lab.build"))
prompt = st.text_area(t("lab.prompt"), height=70, key=ui.setting(
    "lab", "prompt", lab.DEFAULT_PROMPT_ES if ui.lang() == "es" else lab.DEFAULT_PROMPT_EN))
row = st.columns([3, 1, 1])
models = row[0].multiselect(t("lab.models"), names, key="lab.setting.models", help=t("lab.models_help"))
repetitions = row[1].number_input(t("lab.repetitions"), min_value=1, max_value=lab.MAX_REPETITIONS, step=1,
                                  key=ui.setting("lab", "repetitions", 5), help=t("lab.repetitions_help"))
num_predict = row[2].number_input("num_predict", min_value=1, max_value=4096, step=8,
                                  key=ui.setting("lab", "num_predict", 48), help=t("lab.num_predict_help"))
ready = st.multiselect(t("lab.ready"), list(lab.READY_MADE), key=ui.setting("lab", "ready", list(lab.DEFAULT_READY)),
                       format_func=ui.labels("lab.condition."), help=t("lab.ready_help"))
with st.expander(t("lab.sweep"), icon=":material/linear_scale:"):
    sweep_cols = st.columns([2, 3, 2])
    sweep_option = sweep_cols[0].selectbox(t("lab.sweep_option"), [None, "temperature", "top_k", "top_p",
                                           "min_p", "repeat_penalty", "seed", "num_ctx", "num_batch"],
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
concurrent = st.toggle(t("lab.concurrent"), key="lab.setting.concurrent", help=t("lab.concurrent_help"))
alternate = st.toggle(t("lab.cold"), key="lab.setting.cold", help=t("lab.cold_help"), disabled=concurrent)

conditions = [lab.Condition(t(f"lab.condition.{c.name}"), c.options) for c in lab.ready_made(ready)]
problems = []  # (text, blocking): a removed or unknown option is sent on purpose, Ollama ignores it
if sweep_option:
    try:
        conditions += lab.sweep(sweep_option, lab.parse_values(sweep_values or ""),
                                int(sweep_seed) if sweep_seed is not None else None)
    except ValueError:
        problems.append((ui.t_escaped("lab.sweep_invalid", values=sweep_values or ""), True))
custom, custom_problems = lab.parse_custom(custom_text or "")
conditions += custom
problems += [(t(p.key, **p.values), True) for p in custom_problems]
for c in conditions:
    problems += [(ui.t_escaped(p.key, **p.values), p.blocking) for p in option_reference.check(c.options)]
    problems += [(ui.t_escaped(p.key, **p.values), False) for p in option_reference.notes(c.options)]
for problem, blocking in dict.fromkeys(problems):
    (st.error if blocking else st.warning)(problem, icon=":material/warning:")


def start() -> Experiment | None:
    try:
        planned = lab.plan(prompt, models, conditions, int(repetitions))
    except lab.PlanRefused as refused:
        st.error(t(refused.key, **refused.values), icon=":material/error:")
        return None
    if experiment:
        experiment.cancel()  # a run still in flight for the old one records nothing
    started = st.session_state[ui_lab.EXPERIMENT] = Experiment(prompt, int(num_predict), alternate and not concurrent,
                                                               planned, concurrent=concurrent)
    ui_lab.save(started)
    return started


def cancel(running: Experiment) -> None:
    running.cancel()
    ui_lab.save(running)
    ui.flash("warning", t("lab.cancelled", done=len(running.runs), total=len(running.plan)),
             icon=":material/cancel:")


# Not a callback: the plan must use this run's values of every widget above.
if st.button(t("lab.run"), type="primary", icon=":material/play_arrow:",
             disabled=any(blocking for _, blocking in problems) or not names, key="lab.start"):
    experiment = start() or experiment

# ------------------------------------------------------------------------------ running
if experiment and experiment.running:  # also when coming back to the page: it carries on
    st.button(t("lab.cancel"), on_click=cancel, args=(experiment,), icon=":material/cancel:", key="lab.cancel")
    bar, total = st.progress(0.0), len(experiment.plan)

    def show_progress(index: int, step: lab.Planned) -> None:
        bar.progress(index / total, text=ui.t_escaped("lab.progress", run=index + 1, total=total, model=step.model,
                                                      condition=step.condition.name, repetition=step.repetition))

    if not experiment.run(client, t("lab.skipped"), show_progress, ui_lab.save):
        st.stop()  # cancelled, or a newer script run took over the plan
    if experiment.error:
        ui.flash_error(experiment.error, key="lab.error")
        ui.flash("info", t("lab.kept", count=len(experiment.runs)), icon=":material/save:")
    st.rerun()

# ------------------------------------------------------------------------------ results
ui_persistence.notice("lab")
if experiment and experiment.runs:
    ui_lab.results(experiment)

with st.expander(t("lab.why"), icon=":material/help:"):
    st.markdown(t("lab.why.body"))

with st.expander(t("lab.lesson"), icon=":material/compare_arrows:"):
    ui_lab.lesson(client, names)

with st.expander(t("lab.reference"), icon=":material/menu_book:"):
    ui_lab.reference(models[0] if models else None)
