"""The chat playground's history, exports and saved conversations (Streamlit), kept out of
pages/chat.py.

A long conversation stays fast: only the latest turns are drawn (older ones on request), each
answer's "Show the HTTP" and reasoning are built only while open, and the exports are made only
when clicked.

Today's API: a thinking model's reasoning streams into its own block above the answer, with the
`think` control only for models whose /api/show capabilities include `thinking`, and a "compare"
that asks the same question again with the opposite `think`; `format` takes "json" or a JSON
Schema from an editor, checked before sending, and the answer is shown as a table or with what did
not match.

A conversation is saved (lib/persistence.py, through lib/ui_persistence.py) whenever its turns or
its settings change, but never while an answer streams: after the question, after the answer
ends (done, failed or stopped), and before another conversation replaces it. A reload brings back
the one used last, with its settings; the others can be reopened from the list.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import streamlit as st

from lib import chat, images, options as option_reference, persistence, structured, thinking, ui, ui_persistence
from lib.client import ModelNotFound, OllamaClient, OllamaError
from lib.formatting import age_parts, number
from lib.generation import Generation
from lib.safe_text import model_markdown
from lib.ui import t

KEY = "chat.conversation"
SAVED_KEY = "chat.saved"  # (conversation id, revision, settings) as last written
# The settings saved with a conversation: the widgets' keys (chat.setting.<name>) and their types.
SETTINGS = {"model": str, "mode": str, "stream": bool, "system": str, "format": str, "schema": str, "think": str,
            "keep_alive": str, "carry": bool, "stop": str, "advanced": str,
            **{name: (low, high) for name, low, high, _ in ui.COMMON_OPTIONS}}
CHOICES = {"mode": ("chat", "generate"), "format": ("none", "json", "schema"), "think": tuple(thinking.SENT)}
FORMATS = {"none": None, "json": "json"}  # "schema": the editor's text
REASONING_ICON = ":material/psychology:"


def _shown(value: float | int | None, spec: str = ".2f") -> str:
    """A measured number as the page's language writes it ('6,5' in Spanish); '—' when unknown."""
    return number(value, spec, ui.lang())


def metrics_caption(turn: chat.Turn) -> str:
    """The answer's numbers. A thinking model's split Ollama's eval_count (reasoning and answer
    together) with the reasoning chunks the dashboard counted, and time the reasoning apart."""
    metrics = turn.metrics
    reasoned = bool(turn.thinking or metrics.thinking_tokens)
    if turn.exchange is not None and not turn.exchange.streamed and metrics.first_token_s is None:
        first = t("chat.first_token_none")  # a whole answer: nothing arrives before the rest
    elif reasoned:
        first = t("chat.first_token_thinking", thinking=_shown(metrics.first_thinking_s),
                  seconds=_shown(metrics.first_token_s))
    else:
        first = t("chat.first_token", seconds=_shown(metrics.first_token_s))
    common = {"prompt": _shown(metrics.prompt_tokens, ""), "output": _shown(metrics.output_tokens, ""),
              "speed": _shown(metrics.tokens_per_second, ".1f"), "first": first,
              "load": _shown(metrics.load_s), "wall": _shown(metrics.wall_s)}
    if not reasoned:
        return t("chat.metrics", **common)
    return t("chat.metrics_thinking", **common, reasoning=_shown(metrics.thinking_tokens, ""),
             answer=_shown(metrics.answer_tokens, ""), thinking=_shown(metrics.thinking_s))


def _reasoning(turn: chat.Turn, number: int) -> None:
    """The reasoning above the answer, built only while open (it can be thousands of words)."""
    metrics = turn.metrics
    if metrics and metrics.thinking_tokens is not None:
        label = t("chat.reasoning.measured", tokens=metrics.thinking_tokens, seconds=_shown(metrics.thinking_s, ".1f"))
    else:
        label = t("chat.reasoning.unmeasured")
    panel = st.expander(label, icon=REASONING_ICON, key=f"chat.reasoning.{number}.open", on_change="rerun")
    if panel.open:
        with panel:
            st.markdown(model_markdown(turn.thinking))
            st.caption(t("chat.reasoning.where"))


def _structured(turn: chat.Turn) -> None:
    """A finished answer asked with `format`: the data as a table, or what is wrong with it."""
    checked = structured.check(turn.content, turn.format)
    if checked.not_json is not None:
        st.warning(ui.t_escaped("chat.structured.not_json", error=checked.not_json), icon=":material/data_object:")
        return
    if checked.problems:
        listed = "\n".join(ui.t_escaped("chat.structured.problem", path=p.path, message=p.message)
                           for p in checked.problems)
        st.warning(t("chat.structured.mismatch", count=len(checked.problems)) + "\n\n" + listed,
                   icon=":material/rule:")
    else:
        st.caption(t("chat.structured.valid" if isinstance(turn.format, dict) else "chat.structured.json"))
    rows = structured.rows(checked.value)
    if rows is None:
        st.json(checked.value, expanded=True)
    elif rows:
        st.dataframe({t("chat.structured.field"): [name for name, _ in rows],
                      t("chat.structured.value"): [value for _, value in rows]}, hide_index=True)


def _comparison(answers: list[chat.Turn]) -> None:
    """The same question's answers side by side: what thinking costs, measured."""
    table = []
    for turn in answers:
        metrics = turn.metrics or Generation()
        table.append({"think": thinking.shown(turn.think) or t("chat.compare.not_sent"),
                      t("chat.compare.reasoning_tokens"): _shown(metrics.thinking_tokens, ""),
                      "eval_count": _shown(metrics.output_tokens, ""),
                      t("chat.compare.reasoning_s"): _shown(metrics.thinking_s, ".1f"),
                      t("chat.compare.first_answer_s"): _shown(metrics.first_token_s),
                      t("chat.compare.total_s"): _shown(metrics.wall_s, ".1f"),
                      "tokens/s": _shown(metrics.tokens_per_second, ".1f")})
    st.table(table, hide_index=True)  # the dashboard's own numbers and labels: nothing from the model
    st.caption(t("chat.compare.how"))


def history(conversation: chat.Conversation) -> None:
    """The latest turns, with a control that shows earlier ones."""
    first, turns = conversation.first_shown, conversation.turns
    if first:
        row = st.columns([2, 1, 1], vertical_alignment="center")
        row[0].caption(t("chat.hidden", count=first))
        row[1].button(t("chat.show_earlier", count=min(chat.WINDOW, first)), key="chat.show_earlier",
                      on_click=conversation.show_earlier, icon=":material/expand_less:", width="stretch")
        row[2].button(t("chat.show_all"), key="chat.show_all", on_click=conversation.show_all,
                      icon=":material/unfold_more:", width="stretch")
    for number in range(first, len(turns)):
        turn = turns[number]
        with st.chat_message(turn.role):
            if turn.compares:
                st.caption(t("chat.compare.again", think=thinking.shown(turn.think) or t("chat.compare.not_sent")))
            if turn.thinking:
                _reasoning(turn, number)
            st.markdown(model_markdown(turn.content))  # formatting kept; images and HTML as text
            if turn.images:  # counted, not drawn: a long chat's reruns stay light
                st.caption(t("chat.images_one" if len(turn.images) == 1 else "chat.images", count=len(turn.images)))
            if turn.stopped:
                st.caption(t("chat.stopped"))
            if turn.error:
                st.caption(t("chat.failed"))
            if turn.thinking and not turn.content:
                length = turn.metrics is not None and turn.metrics.done_reason == "length"
                st.caption(t("chat.reasoning.only") + (" " + t("chat.reasoning.length") if length else ""))
            if turn.metrics:
                st.caption(metrics_caption(turn))
            if number == len(turns) - 1 and turn.content and turn.exchange is not None and turn.exchange.streamed:
                _pieces(turn, number)
            if turn.format is not None and turn.content and not (turn.stopped or turn.error):
                _structured(turn)
            if turn.compares and (number + 1 == len(turns) or not turns[number + 1].compares):
                _comparison(chat.same_question(turns, number))
            if turn.exchange is not None:  # keyed by the turn's place: a panel stays open as turns come
                ui.show_http(turn.exchange, key=f"chat.http.{number}")


def export_buttons(json_column, markdown_column, settings: chat.Settings, turns: list[chat.Turn]) -> None:
    """JSON and Markdown of the whole conversation, made when clicked (a long chat is megabytes)."""
    labels = {k: t(f"chat.md.{k}") for k in ("title", "model", "options", "system", "user", "assistant",
                                              "stopped", "error", "reasoning", "compares", "images")}
    json_column.download_button(t("chat.export_json"), lambda: chat.export_json(settings, turns), "chat.json",
                                mime="application/json", icon=":material/download:", disabled=not turns,
                                on_click="ignore", key="chat.export_json")
    markdown_column.download_button(t("chat.export_md"), lambda: chat.export_markdown(settings, turns, labels),
                                    "chat.md", mime="text/markdown", icon=":material/description:",
                                    disabled=not turns, on_click="ignore", key="chat.export_md")


# ------------------------------------------------------------------------------ today's API
def start_with_the_builtin_instruct_model(names: list[str]) -> None:
    """On the built-in server a new chat starts with its instruct model (smollm2:135m): it ends its
    turn, where the base model only continues text."""
    builtin = ui.server_status().builtin
    if builtin and "chat.setting.model" not in st.session_state and builtin.get("model") in names:
        st.session_state["chat.setting.model"] = builtin["model"]


def builtin_model_note(model: str | None) -> None:
    """What the built-in server's models can do, said where the student picks one."""
    builtin = ui.server_status().builtin
    if builtin and model in (builtin.get("models") or ()):
        st.caption(t("chat.builtin_instruct" if model == builtin.get("model") else "chat.builtin_base"))


def model_facts(model: str | None) -> dict | None:
    """/api/show of the chosen model (cached per digest); None when there is none or it failed."""
    if not model:
        return None
    try:
        listed = next((m for m in ui.installed_tags()[0].get("models") or [] if m.get("name") == model), {})
        return ui.model_show(model, listed.get("digest") or "")[0]
    except OllamaError:
        return None


def model_thinking(model: str | None, show: dict | None) -> tuple[tuple[str, ...] | None, bool]:
    """The `think` choices of the chosen model (None: it does not think, or its capabilities could
    not be read: no control, nothing sent) and whether it takes only levels (gpt-oss)."""
    if not model or show is None:
        return None, False
    details = show.get("details") if isinstance(show.get("details"), dict) else {}
    family = details.get("family") if isinstance(details.get("family"), str) else None
    return thinking.choices(show.get("capabilities"), model, family), thinking.levels_only(model, family)


def think_control(column, choices: tuple[str, ...] | None, levels: bool) -> bool | str | None:
    """The `think` to send: a control only for a thinking model; None (not sent) for any other."""
    if choices is None:
        return None
    key = ui.setting("chat", "think", "default")
    if st.session_state.get(key) not in choices:  # another model, which takes other values
        st.session_state[key] = "default"
    choice = column.selectbox("think", choices, key=key, format_func=ui.labels("chat.think."),
                              help=t("chat.think_help_levels" if levels else "chat.think_help"))
    return thinking.SENT[choice]


def _load_schema(name: str) -> None:
    st.session_state["chat.setting.schema"] = structured.ready_text(ui.lang(), name)


def format_controls(column) -> tuple[str | dict | None, structured.SchemaRefused | None]:
    """`format`: nothing, "json", or a JSON Schema from the editor (three ready ones to start
    from), checked before anything is sent: (what to send, why it cannot be sent)."""
    choice = column.selectbox("format", CHOICES["format"], key=ui.setting("chat", "format", "none"),
                              format_func=ui.labels("chat.format."), help=t("chat.format_help"))
    if choice != "schema":
        return FORMATS[choice], None
    key = ui.setting("chat", "schema", structured.ready_text(ui.lang(), "country"))
    ready = st.columns(4, vertical_alignment="center")
    ready[0].caption(t("chat.schema.ready"))
    for place, name in zip(ready[1:], structured.READY_NAMES):
        place.button(t(f"chat.schema.ready.{name}"), key=f"chat.schema.load.{name}", on_click=_load_schema,
                     args=(name,), width="stretch")
    text = st.text_area(t("chat.schema"), key=key, height=220, help=t("chat.schema_help"))
    try:
        return structured.parse_schema(text), None
    except structured.SchemaRefused as refused:
        return None, refused


def compare_button(conversation: chat.Conversation, choices: tuple[str, ...] | None, levels: bool) -> None:
    """Under the last answer of a thinking model: the same question again with the opposite
    `think`, both answers' numbers side by side."""
    turns = conversation.turns
    if choices is None or not turns or turns[-1].role != "assistant" or conversation.waiting_question():
        return
    other = thinking.opposite(turns[-1].think, levels)
    st.button(t("chat.compare", think=thinking.shown(other)), key="chat.compare", on_click=conversation.compare,
              args=(other,), icon=":material/compare_arrows:", help=t("chat.compare_help"))


def stream_answer(live: chat.Answer, every_s: float = 0.05) -> None:
    """The reasoning, in its own block, and the answer below it, drawn as they arrive: each
    redrawn whole through model_markdown at most every `every_s` seconds (ui.stream_model_text
    does this for one text; a thinking model streams two, in turn or interleaved)."""
    reasoning_slot, status_slot, answer_slot = st.empty(), st.empty(), st.empty()
    thought, said, drawn_at, box = [], [], 0.0, None

    def draw() -> None:
        nonlocal box
        if thought:
            if box is None:
                box = reasoning_slot.expander(t("chat.reasoning"), expanded=True, icon=REASONING_ICON).empty()
            box.markdown(model_markdown("".join(thought)))
            status_slot.caption(t("chat.reasoning.live" if not said else "chat.reasoning.live_done",
                                  tokens=len(thought)))
        if said:
            answer_slot.markdown(model_markdown("".join(said)))

    for kind, text in live.pieces():
        (thought if kind == "thinking" else said).append(text)
        if time.monotonic() - drawn_at >= every_s:
            draw()
            drawn_at = time.monotonic()
    draw()


def ask(current: chat.Conversation, asked) -> None:
    """The chat box's question and its attached images, prepared as the Image description page
    prepares one (Pillow, a JPEG or PNG of at most 1024 px, base64); an image that cannot be sent
    is said and nothing is asked."""
    try:
        attached = [images.prepare(file.getvalue()).base64 for file in asked.files]
    except images.ImageError as error:
        st.error(f"**{t('vision.error.title')}**\n\n{t(error.key, **error.values)}", icon=":material/broken_image:")
        return
    current.ask(asked.text or "", attached)


# ------------------------------------------------------------------------------ what really runs
@st.cache_data(ttl=10, show_spinner=False)
def _ps(url: str) -> dict:
    """`/api/ps`, shared by every session for a few seconds (as ui._tags is)."""
    return OllamaClient(url).ps()


def _value(value) -> str:
    """An option's value as it is written in the request's JSON."""
    return json.dumps(value, ensure_ascii=False)


def option_placeholders(show: dict | None) -> dict[str, str]:
    """What an empty option input means with the chosen model: its Modelfile PARAMETER, else the
    server's default (api/types.go DefaultOptions) or "chosen by the server" (num_ctx...)."""
    effective = option_reference.effective_options(option_reference.model_parameters(show or {}), {})
    placeholders = {}
    for name, *_ in ui.COMMON_OPTIONS:
        value, source = effective[name]
        shown = t("chat.effective.auto") if value is None else _value(value)
        placeholders[name] = t("chat.effective.model" if source == option_reference.MODEL else "chat.effective.server",
                               value=shown)
    return placeholders


def effective_table(model: str | None, show: dict | None, chosen: dict) -> None:
    """Every option's value with this model and this request, and where it comes from; built only
    while the toggle is on."""
    if not model or not st.toggle(ui.t_escaped("chat.effective.show", model=model), key="chat.effective"):
        return
    if show is None:
        st.caption(ui.t_escaped("chat.effective.unreadable", model=model))
    st.caption(t("chat.effective.how"))
    effective = option_reference.effective_options(option_reference.model_parameters(show or {}), chosen)
    context = _loaded_context(model) if effective["num_ctx"][0] is None else None
    rows = []
    for name, (value, source) in effective.items():
        shown = t("chat.effective.auto") if value is None else _value(value)
        if name == "num_ctx" and context:
            shown = t("chat.effective.ps", value=context)
        rows.append({t("chat.effective.option"): name, t("chat.effective.value"): shown,
                     t("chat.effective.source"): t(f"chat.effective.source.{source}")})
    st.table(rows, hide_index=True)  # option names and values: nothing a model wrote


def _loaded_context(model: str) -> int | None:
    try:
        return chat.loaded_context(_ps(ui.client().base_url), model)
    except OllamaError:
        return None


def context_warning(conversation: chat.Conversation, settings: chat.Settings) -> None:
    """Under the last answer: a warning when the conversation nears num_ctx (the one requested,
    else the one the server loaded the model with, from /api/ps)."""
    turns = conversation.turns
    if not turns or turns[-1].role != "assistant" or turns[-1].metrics is None or not settings.model:
        return
    requested = settings.options.get("num_ctx")
    if isinstance(requested, (int, float)) and not isinstance(requested, bool):
        num_ctx, key = int(requested), "chat.context.near_request"
    else:
        num_ctx, key = _loaded_context(settings.model), "chat.context.near_server"
    if used := chat.context_in_use(turns[-1].metrics, num_ctx):
        st.warning(t(key, used=used, num_ctx=num_ctx), icon=":material/warning:")


def _pieces(turn: chat.Turn, number: int) -> None:
    """The last streamed answer's pieces with their boundaries: tokens, not words. Read from the
    recorded lines only while open."""
    panel = st.expander(t("chat.pieces"), icon=":material/token:", key=f"chat.pieces.{number}.open",
                        on_change="rerun")
    if panel.open:
        with panel:
            pieces = chat.streamed_pieces(turn.exchange)
            st.code(chat.pieces_line(pieces), language=None, wrap_lines=True)
            st.caption(t("chat.pieces_how"))
            eval_count = turn.metrics.output_tokens if turn.metrics else None
            st.caption(t("chat.pieces_count", pieces=len(pieces), eval_count=_shown(eval_count, "")))
            if turn.exchange.line_count > len(turn.exchange.lines):
                st.caption(t("chat.pieces_cut", shown=len(pieces)))


# ------------------------------------------------------------------------------ lessons
def _ask_about_the_sky(current: chat.Conversation) -> None:
    current.ask(t("chat.fluent.question"))


def _provoke(current: chat.Conversation, system: str) -> None:
    # "200": the server had that model after all, and answered
    st.session_state["chat.provoked"] = chat.provoke_not_found(ui.client(), system, current.turns) or "200"


def lessons(current: chat.Conversation, system: str, model: str | None) -> None:
    """Two lessons, each built only while open: the course's fluent but wrong physics, and
    Ollama's real 404 for a model that is not installed."""
    fluent = st.expander(t("chat.fluent.title"), icon=":material/fact_check:", key="chat.fluent.open",
                         on_change="rerun")
    if fluent.open:
        with fluent:
            st.markdown(t("chat.fluent.body"))
            st.button(t("chat.fluent.ask"), key="chat.fluent.ask", on_click=_ask_about_the_sky, args=(current,),
                      icon=":material/help:", disabled=not model)
    provoke = st.expander(t("chat.provoke.title"), icon=":material/bug_report:", key="chat.provoke.open",
                          on_change="rerun")
    if not provoke.open:
        return
    with provoke:
        st.caption(t("chat.provoke.body"))
        st.button(t("chat.provoke.button", model=chat.NOT_INSTALLED), key="chat.provoke", on_click=_provoke,
                  args=(current, system), icon=":material/error:")
        error = st.session_state.get("chat.provoked")
        if error is None:
            return
        if isinstance(error, ModelNotFound) and error.exchange is not None:
            body = "".join(error.exchange.response_lines()[0])
            st.error(ui.t_escaped("chat.provoke.answer", status=error.status, body=body), icon=":material/error:")
            # the CLI pulls a missing model first (cmd/cmd.go showOrPullModel); the API does not
            st.markdown(t("chat.provoke.explained", model=chat.NOT_INSTALLED))
            ui.show_http(error.exchange, key="chat.provoke.http")
        else:
            st.warning(ui.t_escaped("chat.provoke.other", error=getattr(error, "message", error)),
                       icon=":material/warning:")


# ------------------------------------------------------------------------------ saved conversations
def conversation() -> chat.Conversation:
    """This session's conversation; a new session (a reload, a lost connection) starts from the
    one this browser used last."""
    current = st.session_state.get(KEY)
    if current is None:
        current = st.session_state[KEY] = chat.Conversation()
        store, browser = ui_persistence.store(), ui_persistence.browser()
        if saved := ui_persistence.attempt("read", store.conversation, browser):
            _open(current, saved)
    return current


def _settings() -> dict:
    return {name: st.session_state[f"chat.setting.{name}"] for name in SETTINGS
            if f"chat.setting.{name}" in st.session_state}


def _valid(name: str, value) -> bool:
    kind = SETTINGS[name]
    if isinstance(kind, tuple):  # a number within the input's bounds
        return not isinstance(value, bool) and isinstance(value, (int, float)) and kind[0] <= value <= kind[1]
    return isinstance(value, kind) and (name not in CHOICES or value in CHOICES[name])


def _open(current: chat.Conversation, saved: persistence.Conversation) -> None:
    """A saved conversation on screen, with the settings it was had with."""
    try:
        turns = chat.from_saved_form(saved.data)
    except chat.ImportRefused:
        ui.flash("warning", t("chat.saved_unreadable"), icon=":material/warning:")
        return
    current.replace(turns, saved.id)
    for name in SETTINGS:
        value = saved.settings.get(name) if isinstance(saved.settings, dict) else None
        if value is not None and _valid(name, value):
            st.session_state[f"chat.setting.{name}"] = value
        else:
            st.session_state.pop(f"chat.setting.{name}", None)
    st.session_state[SAVED_KEY] = (current.id, current.revision, _settings())


def save(current: chat.Conversation) -> None:
    """Writes the conversation if its turns or settings changed since the last write. Not while an
    answer streams (the run that ends it saves it), and not while it is empty."""
    if current.live is not None or not current.turns:
        return
    revision, settings = current.revision, _settings()
    last = st.session_state.get(SAVED_KEY)
    if settings.get("model") is None and last and last[0] == current.id:
        settings["model"] = last[2].get("model")  # a server that lists no models now: keep the choice
    if last == (current.id, revision, settings):
        return
    if ui_persistence.attempt("chat", ui_persistence.store().save_conversation, ui_persistence.browser(),
                              current.id, chat.saved_form(current), settings):
        st.session_state[SAVED_KEY] = (current.id, revision, settings)


def leave(current: chat.Conversation) -> None:
    """Before another conversation takes the screen: an answer still streaming ends, keeping what
    arrived, and the conversation is saved as it is."""
    current.settle()
    save(current)


def start(current: chat.Conversation, example: bool = False) -> None:
    """A new conversation (empty, or the course example); the one left stays in the list."""
    leave(current)
    if example:
        current.load_example()
    else:
        current.replace([])


def reopen(current: chat.Conversation, conversation_id: str) -> None:
    saved = ui_persistence.attempt("read", ui_persistence.store().conversation, ui_persistence.browser(),
                                   conversation_id)
    if saved:
        leave(current)
        _open(current, saved)
        ui_persistence.attempt("chat", ui_persistence.store().mark_used, ui_persistence.browser(), conversation_id)


def delete(current: chat.Conversation, conversation_id: str) -> None:
    """Removed from the file; deleting the one on screen starts a new one."""
    if conversation_id == current.id:
        current.settle()
        current.replace([])
    if ui_persistence.attempt("chat", ui_persistence.store().delete_conversation, ui_persistence.browser(),
                              conversation_id):
        ui.flash("success", t("chat.deleted"), icon=":material/delete:")


def _confirm_delete(current: chat.Conversation, saved: persistence.Saved) -> None:
    @st.dialog(t("chat.delete.title"))
    def confirm() -> None:
        st.warning(ui.t_escaped("chat.delete.confirm", title=saved.title or t("chat.untitled")),
                   icon=":material/warning:")
        yes, no = st.columns(2)
        if (yes.button(t("chat.delete.yes"), key="chat.delete.yes", type="primary", on_click=delete,
                       args=(current, saved.id))
                or no.button(t("chat.delete.no"), key="chat.delete.no")):
            st.rerun()  # closes the dialog

    confirm()


def conversations(column, current: chat.Conversation) -> None:
    """This browser's saved conversations, to reopen or delete; listed only while open."""
    menu = column.popover(t("chat.conversations"), icon=":material/forum:", key="chat.conversations",
                          on_change="rerun", width="stretch")
    if not menu.open:
        return
    saved = ui_persistence.attempt("read", ui_persistence.store().conversations, ui_persistence.browser(),
                                   otherwise=[])
    deleting = None
    with menu:
        st.caption(t("chat.conversations.private", most=persistence.MAX_CONVERSATIONS))
        if not saved:
            st.caption(t("chat.conversations.none"))
        for item in saved:
            when = ui.age(age_parts(datetime.fromtimestamp(item.used, timezone.utc)))
            row = st.columns([8, 1], vertical_alignment="center")
            row[0].button(ui.t_escaped("chat.conversations.item", title=item.title or t("chat.untitled"),
                                       count=item.turns, when=when),
                          key=f"chat.open.{item.id}", on_click=reopen, args=(current, item.id),
                          disabled=item.id == current.id, type="tertiary", width="stretch")
            if row[1].button("", icon=":material/delete:", key=f"chat.delete.{item.id}", help=t("chat.delete")):
                deleting = item
    if deleting is not None:
        _confirm_delete(current, deleting)
