"""The Model library's tables, details and pull bars (Streamlit), kept out of pages/models.py.

Column names and other labels are translated once per run, not once per row: 300 installed
models are 300 rows."""
from __future__ import annotations

import json

import streamlit as st

from lib import catalog, create_model, formatting, library, models, ollama_facts, ui
from lib.builtin_server import INSTRUCT_MODEL
from lib.client import OllamaClient, OllamaError
from lib.formatting import human_bytes, number
from lib.models import InstalledModel, ModelDetails
from lib.pull import PullFollower, PullProgress
from lib.safe_text import plain
from lib.ui import t

CREATE_LAST = "models.create_last"  # the last finished creation, shown until the next one
CHOOSE_NEXT = "models.choose_next"  # the model the details should show on the next run (one just created)
DEFAULT_NUM_CTX = ollama_facts.default_context_length(0)  # Ollama's pick on a classroom machine without a GPU


def installed_table(rows: list[InstalledModel]) -> None:
    name, size, modified, date, family, parameters, quantization = (
        t("models.col.name"), t("models.col.size"), t("models.col.modified"), t("models.col.modified_at"),
        t("models.col.family"), t("models.col.parameters"), t("models.col.quantization"))
    ages = {parts: ui.age(parts) for parts in {r.modified_ago for r in rows}}
    ui.number_table([{name: r.name, "ID": r.id, size: r.size_gb, modified: ages[r.modified_ago], date: r.modified,
                     family: r.family, parameters: r.parameter_size, quantization: r.quantization} for r in rows],
                   {size: "%.1f GB"})


def details(facts: ModelDetails, show: dict, row: InstalledModel, full_digest: str) -> None:
    """What `ollama show` tells: capabilities, the name's parts, the ID, the three numbers a student
    confuses (download, memory for a context, maximum context), the model's own defaults, the texts."""
    if facts.capabilities is None:
        st.caption(t("models.capabilities_unknown"))
    else:
        st.markdown(" ".join(
            f":blue-badge[{t('models.capability.' + c) if c in models.CAPABILITIES else plain(c)}]"
            for c in facts.capabilities))
    st.caption(ui.t_escaped("models.id_digest", id=row.id, name=row.name))
    if models.differs_from_course(row.name, full_digest.removeprefix("sha256:")):
        st.warning(ui.t_escaped("models.course_differs", name=row.name, id=row.id, course_id=models.COURSE_ID),
                   icon=":material/history:")
    _anatomy(row, facts)
    _three_numbers(facts, show, row)
    cols = st.columns(3)
    cols[0].metric(t("models.col.family"), plain(facts.family or facts.architecture or "—"))
    cols[1].metric(t("models.col.parameters"), plain(facts.parameter_size or "—"))
    cols[2].metric(t("models.col.quantization"), plain(facts.quantization or "—"))
    with st.expander(t("models.parameters")):
        _default_parameters(show)
    for label, text, language in (("models.template", facts.template, "go"),
                                  ("models.system", facts.system, None),
                                  ("models.license", facts.license, None),
                                  ("models.modelfile", facts.modelfile, "docker")):
        if text:
            with st.expander(t(label)):
                st.code(text, language=language, wrap_lines=True)


def _anatomy(row: InstalledModel, facts: ModelDetails) -> None:
    """The name's parts (an installed name always has its tag: /api/tags lists `llava` as
    `llava:latest`); the quantization from /api/show where the tag does not say it."""
    parts = models.tag_anatomy(row.name)
    if parts is None:
        return
    quantization = parts.quantization or (
        t("models.anatomy.from_details", quantization=facts.quantization) if facts.quantization else "")
    with st.expander(t("models.anatomy")):
        st.markdown(t("models.anatomy.body"))
        part, value = t("models.anatomy.part"), t("models.anatomy.value")
        st.dataframe([{part: t(f"models.anatomy.{name}"), value: text or "—"} for name, text in (
            ("namespace", parts.namespace), ("model", parts.model), ("tag", parts.tag), ("size", parts.size),
            ("variant", parts.variant), ("quantization", quantization))], hide_index=True, width="stretch")


def _three_numbers(facts: ModelDetails, show: dict, row: InstalledModel) -> None:
    """Download size, memory for the chosen num_ctx and NUM_PARALLEL, and the training length."""
    lang = ui.lang()
    st.caption(t("models.three_numbers"))
    ctx_col, parallel_col = st.columns(2)
    num_ctx = ctx_col.number_input(t("models.num_ctx"), min_value=256, max_value=1_048_576, step=1024,
                                   key=ui.setting("models", "num_ctx", DEFAULT_NUM_CTX), help=t("models.num_ctx_help"))
    parallel = parallel_col.number_input(t("models.num_parallel"), min_value=1, max_value=64, step=1,
                                         key=ui.setting("models", "num_parallel", ollama_facts.DEFAULT_NUM_PARALLEL),
                                         help=t("models.num_parallel_help"))
    weights = row.size_bytes
    kv = models.kv_cache_bytes(show.get("model_info") or {}, int(num_ctx), int(parallel))
    cols = st.columns(3)
    cols[0].metric(t("models.download"), human_bytes(weights, lang))
    cols[1].metric(t("models.memory_for", num_ctx=number(int(num_ctx), ",", lang)),
                   human_bytes(weights + kv, lang) if kv is not None else "—",
                   help=t("models.memory_help", weights=human_bytes(weights, lang), kv=human_bytes(kv, lang)))
    context = number(facts.context_length, ",", lang) if facts.context_length else "—"
    cols[2].metric(t("models.context_length"), context, help=t("models.context_help"))


def _default_parameters(show: dict) -> None:
    """The model's PARAMETERs beside the server's defaults they replace."""
    rows = models.default_parameters(show)
    st.caption(t("models.parameters_caption"))
    if not rows:
        st.caption(t("models.parameters.none"))
        return
    name, mine, server = (t("models.parameters.col.name"), t("models.parameters.col.model"),
                          t("models.parameters.col.server"))
    lang = ui.lang()
    st.dataframe([{name: option, mine: _text(value, lang), server: _text(default, lang)}
                  for option, value, default in rows], hide_index=True, width="stretch")


def _text(value, lang: str) -> str:
    """A parameter as one cell: lists (stop) as JSON, numbers in the page's language, nothing as '—'."""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number(value, "", lang)
    return "—" if value is None else str(value)


def name_read_as(name: str) -> None:
    """How Ollama reads the name being typed: host, namespace and the implicit `latest`."""
    parsed = ollama_facts.parse_model_name(name) if name.strip() else None
    if parsed is None:
        return
    text = ui.t_escaped("models.pull.reads_as", full=f"{parsed.host}/{parsed.namespace}/{parsed.model}:{parsed.tag}")
    if not models.tag_anatomy(name).tag_given:
        text += " " + t("models.pull.latest_implicit")
    st.caption(text)


def course_layers() -> None:
    """The five layers of the course's `ollama pull gemma:2b`, each with what it is."""
    with st.expander(t("models.layers")):
        st.caption(t("models.layers.caption"))
        digest, size, what = (t("models.layers.col.digest"), t("models.layers.col.size"),
                              t("models.layers.col.what"))
        st.dataframe([{digest: layer, size: shown, what: t(f"models.layer.{kind}")}
                      for layer, shown, kind in models.COURSE_LAYERS], hide_index=True, width="stretch")


def pull_progress(progress: PullProgress, area) -> None:
    """One bar per layer and the overall one, like `ollama pull`, drawn into `area` (st.empty)."""
    lang = ui.lang()
    with area.container():
        for layer in progress.layers.values():
            st.progress(layer.fraction, text=f"pulling {plain(layer.short)}… {layer.fraction:.0%} · "
                                             f"{human_bytes(layer.total, lang)}")
        speed, left = progress.speed, progress.seconds_left
        st.progress(progress.fraction, text=t(
            "models.pull.overall", percent=f"{progress.fraction:.0%}",
            done=human_bytes(progress.completed, lang), total=human_bytes(progress.total, lang),
            speed=f"{human_bytes(speed, lang)}/s" if speed else "—",
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


def catalog_section(client_url: str, installed_names: list[str], writable: bool, on_pull) -> None:
    """The catalog: filters, the table, licences, and a one-click pull (`on_pull(tag)`) where writable."""
    memory = catalog.machine_memory_gb() if catalog.is_local(client_url) else None
    filters = st.columns(4)
    purpose = filters[0].selectbox(t("models.purpose"), [None, *catalog.PURPOSES], key="models.purpose",
                                   format_func=lambda p: t(f"models.purpose.{p or 'any'}"))
    fits = filters[1].number_input(t("models.fits_in"), min_value=1, max_value=1024, step=1,
                                   value=int(memory) if memory else 8, key="models.fits_in",
                                   help=t("models.fits_in_help_local" if memory else "models.fits_in_help"))
    capabilities = capability_filter(filters[2])
    course_only = filters[3].toggle(t("models.course_only"), key="models.course_only")
    every = catalog.load_catalog()
    shown = catalog.select(every, purpose, fits, course_only, capabilities)
    catalog_table(shown, installed_names)
    st.caption(t("models.catalog.count", shown=len(shown), total=len(every)))
    st.caption(t("models.license_note"))
    if writable and shown:
        pick_col, go_col = st.columns([3, 1], vertical_alignment="bottom")
        pick = pick_col.selectbox(t("models.catalog.pick"), [m.tag for m in shown], key="models.catalog_pick")
        go_col.button(t("models.pull.start"), key="models.catalog_pull", icon=":material/download:",
                      on_click=lambda: on_pull(st.session_state["models.catalog_pick"]))
        if any(m.tag == pick and m.content_caveat for m in shown):
            st.warning(ui.t_escaped("models.content_caveat", model=pick), icon=":material/warning:")


def catalog_table(shown: list[catalog.CatalogModel], installed_names: list[str]) -> None:
    (name, tag, parameters, size, memory, purpose, capabilities, installed, builtin, what, alternative, licence,
     command) = (
        t("models.col.name"), t("models.col.tag"), t("models.col.parameters"), t("models.col.size"),
        t("models.col.memory"), t("models.purpose"), t("models.capabilities"), t("models.col.installed"),
        t("models.col.builtin"), t("models.col.what"), t("models.col.alternative"), t("models.col.license"),
        t("models.col.command"))
    purposes = {p: t(f"models.purpose.{p}") for p in catalog.PURPOSES}
    tags = {c: t(f"models.capability.{c}") for c in catalog.CAPABILITY_FILTERS}
    installed_set = library.installed_set(installed_names)
    rows = [{name: m.name, tag: m.tag, parameters: _decimals(m.parameters), size: m.size_gb, memory: m.memory_gb,
             purpose: ", ".join(purposes.get(p, p) for p in m.purposes),
             capabilities: [tags.get(c, c) for c in m.capabilities],
             installed: library.is_installed(m.tag, installed_set), builtin: m.builtin,
             what: t(f"catalog.{m.id}"), alternative: m.alternative or "", licence: m.license, command: m.run_command}
            for m in shown]
    # sizes down to 0.046 GB: as many decimals as each needs
    ui.number_table(rows, {size: "%g GB", memory: "%g GB"}, {capabilities: st.column_config.ListColumn()})


def _decimals(parameters: str) -> str:
    """"1.5B" written with the page language's decimal mark ("1,5B" in Spanish)."""
    return parameters.replace(".", formatting.DECIMAL_MARK.get(ui.lang(), "."))


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
