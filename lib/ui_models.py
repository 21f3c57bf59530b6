"""The Model library's tables, details and pull bars (Streamlit), kept out of pages/models.py.

Column names and other labels are translated once per run, not once per row: 300 installed
models are 300 rows."""
from __future__ import annotations

import json

import streamlit as st

from lib import catalog, create_model, library, models, ui
from lib.builtin_server import INSTRUCT_MODEL
from lib.client import OllamaClient, OllamaError
from lib.formatting import human_bytes
from lib.models import InstalledModel, ModelDetails
from lib.pull import PullFollower, PullProgress
from lib.safe_text import plain
from lib.ui import t

SIZE_GB = st.column_config.NumberColumn(format="%.1f GB")
CATALOG_SIZE_GB = st.column_config.NumberColumn(format="%.2f GB")  # the built-in server's are 0.1 and 0.25 GB
CREATE_LAST = "models.create_last"  # the last finished creation, shown until the next one
CHOOSE_NEXT = "models.choose_next"  # the model the details should show on the next run (one just created)


def installed_table(rows: list[InstalledModel]) -> None:
    name, size, modified, date, family, parameters, quantization = (
        t("models.col.name"), t("models.col.size"), t("models.col.modified"), t("models.col.modified_at"),
        t("models.col.family"), t("models.col.parameters"), t("models.col.quantization"))
    ages = {parts: ui.age(parts) for parts in {r.modified_ago for r in rows}}
    st.dataframe([{name: r.name, "ID": r.id, size: r.size_gb, modified: ages[r.modified_ago],
                   date: r.modified, family: r.family, parameters: r.parameter_size,
                   quantization: r.quantization} for r in rows],
                 hide_index=True, width="stretch", column_config={size: SIZE_GB})


def details(facts: ModelDetails) -> None:
    """What `ollama show` tells: capabilities, context, family, size, and the long texts."""
    if facts.capabilities is None:
        st.caption(t("models.capabilities_unknown"))
    else:
        st.markdown(" ".join(
            f":blue-badge[{t('models.capability.' + c) if c in models.CAPABILITIES else plain(c)}]"
            for c in facts.capabilities))
    cols = st.columns(4)
    cols[0].metric(t("models.context_length"), f"{facts.context_length:,}" if facts.context_length else "—")
    cols[1].metric(t("models.col.family"), plain(facts.family or facts.architecture or "—"))
    cols[2].metric(t("models.col.parameters"), plain(facts.parameter_size or "—"))
    cols[3].metric(t("models.col.quantization"), plain(facts.quantization or "—"))
    for label, text, language in (("models.parameters", facts.parameters, None),
                                  ("models.template", facts.template, "go"),
                                  ("models.system", facts.system, None),
                                  ("models.license", facts.license, None),
                                  ("models.modelfile", facts.modelfile, "docker")):
        if text:
            with st.expander(t(label)):
                st.code(text, language=language, wrap_lines=True)


def pull_progress(progress: PullProgress, area) -> None:
    """One bar per layer and the overall one, like `ollama pull`, drawn into `area` (st.empty)."""
    with area.container():
        for layer in progress.layers.values():
            st.progress(layer.fraction, text=f"pulling {plain(layer.short)}… {layer.fraction:.0%} · "
                                             f"{human_bytes(layer.total)}")
        speed, left = progress.speed, progress.seconds_left
        st.progress(progress.fraction, text=t(
            "models.pull.overall", percent=f"{progress.fraction:.0%}",
            done=human_bytes(progress.completed), total=human_bytes(progress.total),
            speed=f"{human_bytes(speed)}/s" if speed else "—",
            left=f"{left:.0f} s" if left is not None else "—"))
        st.caption(" → ".join(plain(s) for s in progress.statuses if not s.startswith("pulling ")
                              or s == "pulling manifest"))


def builtin_notice(builtin: dict) -> None:
    """The built-in server has no internet: which models it can install."""
    st.info(ui.t_escaped("models.builtin.no_internet", models=", ".join(library.builtin_models(builtin))),
            icon=":material/wifi_off:")


def pull_outcome(pull: PullFollower, builtin: dict | None) -> None:
    """How a finished pull ended, and its HTTP: kept on screen until the next pull starts, so its
    "Show the HTTP" can be opened (opening it is a rerun). On the built-in server, a failed pull
    says which models it can install."""
    if pull.succeeded:
        st.success(ui.t_escaped("models.pull.success", model=pull.name), icon=":material/check_circle:")
    if pull.error is not None:
        ui.show_error(pull.error, key="models.pull")
        if builtin is not None and not library.builtin_can_install(pull.name, builtin):
            st.info(ui.t_escaped("models.builtin.cannot_pull", model=pull.name,
                                 models=", ".join(library.builtin_models(builtin))), icon=":material/wifi_off:")
    if pull.exchange is not None:
        ui.show_http(pull.exchange, key="models.pull.http")


def capability_filter(container) -> list[str]:
    """The capabilities every shown model must have (none chosen: all models)."""
    return container.multiselect(t("models.capabilities"), catalog.CAPABILITY_FILTERS, key="models.capabilities",
                                 format_func=lambda c: t(f"models.capability.{c}"))


def catalog_table(shown: list[catalog.CatalogModel], installed_names: list[str]) -> None:
    name, tag, parameters, size, memory, purpose, capabilities, installed, builtin, what, alternative, command = (
        t("models.col.name"), t("models.col.tag"), t("models.col.parameters"), t("models.col.size"),
        t("models.col.memory"), t("models.purpose"), t("models.capabilities"), t("models.col.installed"),
        t("models.col.builtin"), t("models.col.what"), t("models.col.alternative"), t("models.col.command"))
    purposes = {p: t(f"models.purpose.{p}") for p in catalog.PURPOSES}
    tags = {c: t(f"models.capability.{c}") for c in catalog.CAPABILITY_FILTERS}
    installed_set = library.installed_set(installed_names)
    st.dataframe(
        [{name: m.name, tag: m.tag, parameters: m.parameters, size: m.size_gb, memory: m.memory_gb,
          purpose: ", ".join(purposes.get(p, p) for p in m.purposes),
          capabilities: [tags.get(c, c) for c in m.capabilities],
          installed: library.is_installed(m.tag, installed_set), builtin: m.builtin,
          what: t(f"catalog.{m.id}"), alternative: m.alternative or "", command: m.run_command}
         for m in shown],
        hide_index=True, width="stretch",
        column_config={size: CATALOG_SIZE_GB, memory: st.column_config.NumberColumn(format="%d GB"),
                       capabilities: st.column_config.ListColumn()})


# ------------------------------------------------------------------ actions (button callbacks)
def refuse(refused: models.NameRefused) -> None:
    ui.flash("error", ui.t_escaped(refused.key, name=refused.name), ":material/error:")


def delete(client: OllamaClient, name: str) -> None:
    try:
        models.ensure_writable()
        client.delete(name)
        ui.flash("success", ui.t_escaped("models.deleted", model=name), ":material/check_circle:")
    except (OllamaError, models.ReadOnlyMode) as error:
        ui.flash_error(error, key="models.action")
    ui.forget_server_lists()


def copy(client: OllamaClient, source: str, destination: str) -> None:
    try:
        models.ensure_writable()
        destination = models.check_name(destination)
        client.copy(source, destination)
        ui.flash("success", ui.t_escaped("models.copied", source=source, destination=destination),
                 ":material/check_circle:")
    except models.NameRefused as refused:
        refuse(refused)
    except (OllamaError, models.ReadOnlyMode) as error:
        ui.flash_error(error, key="models.action")
    ui.forget_server_lists()


# ------------------------------------------------------------------ create a model
@st.fragment
def create_form(client: OllamaClient, names: list[str]) -> None:
    """Name, FROM, SYSTEM and PARAMETER lines, with the Modelfile and the `/api/create` request they
    make, drawn live; the status lines as they stream. A fragment: typing reruns only the form. The
    course's example is prefilled: `profe` FROM smollm2:135m, a patient teacher, temperature 0.2."""
    st.header(t("models.create"))
    st.caption(t("models.create.summary"))
    left, right = st.columns(2)
    name = left.text_input(t("models.create.name"), key=ui.setting("models", "create_name", create_model.EXAMPLE_NAME))
    source_key = "models.setting.create_from"
    if st.session_state.get(source_key) not in names:  # first visit, or that model is gone
        st.session_state[source_key] = INSTRUCT_MODEL if INSTRUCT_MODEL in names else next(iter(names), None)
    source = right.selectbox(t("models.create.from"), names, key=source_key)
    system = st.text_area(t("models.create.system"), height=90, key=ui.setting(
        "models", "create_system", t("models.create.system_example")))
    st.caption(t("models.create.parameters"))
    st.session_state.setdefault("models.create.setting.temperature", create_model.EXAMPLE_TEMPERATURE)
    chosen, _ = ui.option_inputs("models.create")  # it shows the problems of its JSON box itself
    new, refusals = create_model.check(name, source or "", system, chosen)
    for refusal in refusals:
        if not refusal.key.startswith("options."):
            st.warning(ui.t_escaped(refusal.key, **refusal.values), icon=":material/warning:")
    if new is not None:
        if create_model.replaces(new.name, names):
            st.warning(ui.t_escaped("models.create.replaces", model=new.name), icon=":material/warning:")
        modelfile, request = st.columns(2)
        modelfile.caption(ui.t_escaped("models.create.modelfile", model=new.name))
        modelfile.code(create_model.modelfile(new), language="docker", wrap_lines=True)
        request.caption(t("models.create.request"))
        request.code(json.dumps(create_model.request_body(new), ensure_ascii=False, indent=2), language="json",
                     wrap_lines=True)
    if st.button(t("models.create.start"), key="models.create", icon=":material/add_circle:", disabled=new is None):
        _create(client, new)
    if last := st.session_state.get(CREATE_LAST):
        _creation_outcome(last)


def _create(client: OllamaClient, new: create_model.NewModel) -> None:
    """The status lines as they stream; then the lists again, with the new model's details chosen."""
    st.markdown(ui.t_escaped("models.create.creating", model=new.name))
    area = st.empty()
    creation = create_model.Creation(client, new)
    for statuses in creation:
        area.code("\n".join(statuses), language=None)
    area.empty()
    st.session_state[CREATE_LAST] = creation
    if creation.succeeded:
        st.session_state[CHOOSE_NEXT] = new.name
        ui.forget_server_lists()
        st.rerun()  # the whole page: the installed list and the details show the new model


def _creation_outcome(creation: create_model.Creation) -> None:
    if creation.statuses:
        st.code("\n".join(creation.statuses), language=None)
    if creation.succeeded:
        st.success(ui.t_escaped("models.create.success", model=creation.model.name), icon=":material/check_circle:")
    if creation.error is not None:
        ui.show_error(creation.error, key="models.create")  # with its HTTP
    elif creation.exchange is not None:
        ui.show_http(creation.exchange, key="models.create.http")
