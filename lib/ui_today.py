"""The Today's API page's sections (Streamlit), kept out of pages/today.py: which installed models can
call tools or embed, the tool loop drawn step by step, and embeddings with their similarities."""
from __future__ import annotations

import json
from dataclasses import dataclass

import streamlit as st

from lib import embeddings, i18n, tools, ui
from lib.client import Exchange, OllamaError, ServerError
from lib.diagnosis import CAPABLE_MODELS
from lib.formatting import chart_separators, human_seconds, number
from lib.http_view import curl_command
from lib.safe_text import model_markdown
from lib.ui import t, t_escaped

TOOLS_RESULT = "today.tools.result"  # the latest ToolRun, kept across page changes
EMBED_RESULT = "today.embed.result"  # the latest Embedded


# ------------------------------------------------------------------------------ the models
@dataclass(frozen=True)
class Capable:
    tools: list[str]  # installed models whose capabilities include `tools`
    embedding: list[str]  # ... `embedding`
    others: list[str]  # the rest
    digests: dict[str, str]


@st.cache_data(max_entries=64, show_spinner=False)
def _scan(url: str, installed: str, _tags: dict) -> Capable:
    """Capabilities of every installed model, once per server and installed list for every session
    (`installed`, names and digests as one string, is the key; /api/show is itself cached per
    model version). A model whose /api/show fails (deleted meanwhile) counts as neither."""
    with_tools, with_embedding, others, digests = [], [], [], {}
    for entry in _tags.get("models") or []:
        name = entry.get("name") or entry.get("model")
        if not isinstance(name, str) or not name:
            continue
        digests[name] = entry.get("digest") or ""
        try:
            capabilities = ui.model_show(name, digests[name])[0].get("capabilities")
        except ServerError:
            capabilities = None
        capabilities = capabilities if isinstance(capabilities, list) else []
        if "tools" in capabilities:
            with_tools.append(name)
        if "embedding" in capabilities:
            with_embedding.append(name)
        if "tools" not in capabilities and "embedding" not in capabilities:
            others.append(name)
    return Capable(with_tools, with_embedding, others, digests)


def scan_models(refresh: bool = False) -> Capable:
    """Which installed models can call tools or embed. Refresh lists the models again."""
    if refresh:
        _scan.clear()
    return _scan(*ui.installed_listing(refresh))


def no_capable_model(capability: str, scan: Capable, builtin: bool) -> None:
    """What to pull, since no installed model can; the built-in server has no such model."""
    st.warning(f"**{t(f'today.{capability}.none.title')}**\n\n{t(f'today.{capability}.none.body')}",
               icon=":material/block:")
    st.code("\n".join(f"ollama pull {name}" for name in CAPABLE_MODELS[capability]), language="bash")
    if builtin:
        st.info(t(f"today.{capability}.none.builtin"), icon=":material/memory:")
    if scan.others:
        st.caption(t_escaped("today.none.installed", models=", ".join(scan.others)))
    st.page_link("pages/models.py", label=t("today.none.link"), icon=":material/inventory_2:")


def model_choice(section: str, names: list[str]) -> str:
    if st.session_state[key := ui.setting("today", f"{section}_model", names[0])] not in names:
        st.session_state[key] = names[0]  # another server, or that model was deleted meanwhile
    return st.selectbox(t(f"today.{section}.model"), names, key=key, help=t(f"today.{section}.model_help"))


def default_text(name: str, default_key: str) -> str:
    """The key of a text box whose example follows the language until the student edits it."""
    defaults = {i18n.translate(lang, default_key) for lang in i18n.LANGUAGES}
    if st.session_state[key := ui.setting("today", name, None)] in defaults | {None}:
        st.session_state[key] = t(default_key)
    return key


# ------------------------------------------------------------------------------ tools
def definitions() -> None:
    with st.expander(t("today.tools.definitions"), icon=":material/data_object:"):
        st.caption(t("today.tools.definitions_note", rounds=tools.MAX_ROUNDS))
        st.code(json.dumps(tools.definitions(), indent=2, ensure_ascii=False), language="json")


def ask(model: str, question: str) -> None:
    """Run the tool loop; the run is in the session before the first call, so an interruption
    (a click, a page change) keeps the rounds done."""
    run = tools.ToolRun(model, question, tools.definitions())
    st.session_state[TOOLS_RESULT] = run
    progress = st.empty()
    progress.caption(t("today.tools.running", number=1))
    tools.ask(ui.client(), run,
              on_round=lambda _: progress.caption(t("today.tools.running", number=len(run.rounds) + 1)))
    progress.empty()


def _outcome(outcome: tools.CallOutcome) -> None:
    name = outcome.name if isinstance(outcome.name, str) else "—"
    if outcome.arguments_were_text:
        st.info(t_escaped("today.tools.arguments_text", name=name), icon=":material/data_object:")
    if outcome.ran:
        st.success(t_escaped("today.tools.ran", name=name), icon=":material/play_arrow:")
    else:
        refusal = outcome.refusal
        st.warning(f"**{t_escaped('today.tools.not_ran', name=name)}**\n\n"
                   f"{t_escaped(refusal.key, **refusal.values)}", icon=":material/gpp_bad:")
        if outcome.problems:
            st.code("\n".join(outcome.problems), language=None)
    st.caption(t("today.tools.sent_back"))
    st.code(json.dumps(outcome.message, ensure_ascii=False), language="json", wrap_lines=True)


def show_tool_run(run: tools.ToolRun) -> None:
    st.caption(t_escaped("today.tools.caption", model=run.model, question=run.question))
    for number, step in enumerate(run.rounds, start=1):
        with st.container(border=True):
            st.markdown(f"**{t('today.tools.round', number=number)}**")
            if isinstance(thinking := step.message.get("thinking"), str) and thinking:
                with st.expander(t("today.tools.thinking"), icon=":material/psychology:"):
                    st.markdown(model_markdown(thinking))
            if step.tool_calls:
                st.caption(t("today.tools.calls", count=len(step.tool_calls)))
                st.code(json.dumps(step.tool_calls, indent=2, ensure_ascii=False), language="json")
                for outcome in step.calls:
                    _outcome(outcome)
            else:
                st.caption(t("today.tools.no_calls"))
            if step.exchange is not None:
                ui.show_http(step.exchange, key=f"today.tools.http.{number}")
    if run.answer is not None:
        st.markdown(f"**{t('today.tools.answer')}**")
        st.markdown(model_markdown(run.answer) if run.answer.strip() else t("today.tools.empty_answer"))
    if run.capped:
        st.warning(t("today.tools.capped", rounds=tools.MAX_ROUNDS), icon=":material/repeat:")
    if run.error is not None:
        ui.show_error(run.error, key="today.tools.error")
    if not run.ended:
        st.info(t("today.tools.interrupted"), icon=":material/pause_circle:")


# ------------------------------------------------------------------------------ embeddings
def embed(model: str, text: str, truncate: bool, dimensions: int | None, digest: str) -> None:
    try:
        show = ui.model_show(model, digest)[0]  # for the model's context length; cached
    except OllamaError:
        show = None  # the embedding call will say what is wrong
    try:
        st.session_state[EMBED_RESULT] = embeddings.embed(ui.client(), model, text, truncate,
                                                          int(dimensions) if dimensions else None, show)
    except i18n.Refusal as refusal:
        st.session_state.pop(EMBED_RESULT, None)
        st.warning(t(refusal.key, **refusal.values), icon=":material/edit_note:")


def show_embedded(result: embeddings.Embedded) -> None:
    st.caption(t_escaped("today.embed.caption", model=result.model, count=len(result.sentences)))
    if result.left_out:
        st.warning(t("today.embed.capped", limit=embeddings.MAX_SENTENCES, left_out=result.left_out),
                   icon=":material/content_cut:")
    if result.error is not None:
        ui.show_error(result.error, key="today.embed.error")
        return
    done, cols = result.generation, st.columns(4)
    cols[0].metric(t("today.embed.metric.sentences"), len(result.sentences))
    cols[1].metric(t("today.embed.metric.length"), result.length, help=t("today.embed.metric.length_help"))
    tokens = done.prompt_tokens if done.prompt_tokens is not None else "—"
    cols[2].metric(t("today.embed.metric.tokens"), tokens, help=t("today.embed.metric.tokens_help"))
    cols[3].metric(t("today.embed.metric.time"), human_seconds(done.total_s, ui.lang()))
    if result.long_sentences:
        numbers = ", ".join(str(n) for n in result.long_sentences)
        st.info(t("today.embed.long", numbers=numbers, context=result.context_length), icon=":material/content_cut:")
    st.dataframe([{"#": row["number"], t("today.embed.col.sentence"): row["sentence"],
                   t("today.embed.col.chars"): row["chars"], t("today.embed.col.norm"): round(row["norm"], 4),
                   t("today.embed.col.first", count=embeddings.FIRST_VALUES):
                       ", ".join(f"{x:.4f}" for x in row["first"]) + ", …"}
                  for row in result.rows()], hide_index=True, width="stretch")
    st.caption(t("today.embed.normalised"))
    figure = embeddings.heatmap(result, t("today.embed.heatmap")).update_layout(separators=chart_separators(ui.lang()))
    st.plotly_chart(figure, key="today.embed.heatmap")
    if best := result.most_alike():
        st.caption(t("today.embed.most_alike", first=best[0], second=best[1], value=number(best[2], ".2f", ui.lang())))
    if result.exchange is not None:
        ui.show_http(result.exchange, key="today.embed.http")


def old_endpoint(model: str, sentence: str) -> None:
    """`/api/embeddings`, the form before /api/embed (and in older tutorials): one text, one vector."""
    with st.expander(t("today.embed.old.title"), icon=":material/history:"):
        st.markdown(t("today.embed.old.body"))
        old = Exchange("POST", ui.client().base_url, "/api/embeddings", {"model": model, "prompt": sentence})
        st.code(curl_command(old), language="bash")
        st.caption(t("today.embed.old.answer"))
        st.code('{"embedding": [0.5670403838157654, 0.009260174818336964, …]}', language="json")
