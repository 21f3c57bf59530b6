"""lib/persistence.py: conversations and the lab's experiment written and read back whole, one
file in WAL mode, each browser seeing only its own work, deleting for good, a bound per browser
that refuses rather than loses, and a damaged file that is said, not a crash."""
import json
import shutil
import sqlite3
import uuid

import pytest

from lib import chat, i18n, persistence
from lib.generation import Generation
from lib.lab import Condition, Planned, failed_run, finished_run
from lib.lab_runner import Experiment
from tests.plugins.fake_ollama import fixture_lines

ROOT = persistence.pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir():
    """A data directory inside the repository (.cache/ is ignored by git), removed afterwards."""
    folder = ROOT / ".cache" / f"test-data-{uuid.uuid4().hex[:8]}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def store(data_dir):
    return persistence.Store(data_dir / persistence.FILE_NAME)


def a_conversation() -> chat.Conversation:
    metrics = Generation.from_final(json.loads(fixture_lines("chat-stream")[-1]), first_token_s=0.25, wall_s=7.1)
    conversation = chat.Conversation()
    conversation.replace([chat.Turn("user", "¿porqué el cielo es azúl? 🦙 ![x](http://a/)"),
                          chat.Turn("assistant", "El cielo **no** es", metrics=metrics, stopped=True),
                          chat.Turn("user", "¿y el mar?"),
                          chat.Turn("assistant", "parcial", error="server crashed", context=[1, 2, 3])])
    return conversation


def test_the_data_directory():
    assert persistence.data_dir({"COMPANION_DATA_DIR": "/srv/d", "XDG_DATA_HOME": "/x"}) == persistence.pathlib.Path("/srv/d")
    assert persistence.data_dir({"XDG_DATA_HOME": "/x"}) == persistence.pathlib.Path("/x/ollama-course-companion")
    assert persistence.data_dir({}) == persistence.pathlib.Path.home() / ".local/share/ollama-course-companion"


def test_ids_are_unguessable_and_checked():
    ids = {persistence.new_id() for _ in range(100)}
    assert len(ids) == 100 and all(persistence.valid_id(i) and len(i) >= 22 for i in ids)
    for bad in (None, "", "short", "a" * 65, "x' OR 1=1 --aaaaaaa", "../../etc/passwd/aaaaaaa", 12345678901234567):
        assert not persistence.valid_id(bad)


def test_a_conversation_comes_back_whole(store):
    conversation = a_conversation()
    settings = {"model": "gemma:2b", "mode": "generate", "temperature": 0.4, "json": True, "system": "Sé breve"}
    assert store.save_conversation("browser-a", conversation.id, chat.saved_form(conversation), settings)
    saved = store.conversation("browser-a")  # the one used last
    assert saved.id == conversation.id and saved.settings == settings
    back = chat.from_saved_form(saved.data)
    assert [(t.role, t.content, t.stopped, t.error, t.metrics, t.context) for t in back] == \
        [(t.role, t.content, t.stopped, t.error, t.metrics, t.context) for t in conversation.turns]
    assert back[1].metrics.tokens_per_second and round(back[1].metrics.first_token_s, 2) == 0.25
    listed = store.conversations("browser-a")
    assert [(s.id, s.title, s.turns) for s in listed] == [(conversation.id, "¿porqué el cielo es azúl? 🦙 ![x](http://a/)", 4)]


def test_a_thinking_conversation_comes_back_with_its_reasoning_and_comparison(store):
    metrics = Generation.from_final(json.loads(fixture_lines("today-chat-think")[-1]), first_token_s=1.9, wall_s=2.2,
                                    first_thinking_s=0.15, thinking_s=1.75, thinking_tokens=51)
    schema = {"type": "object", "properties": {"pais": {"type": "string"}}, "required": ["pais"]}
    conversation = chat.Conversation()
    conversation.replace([chat.Turn("user", "¿Capital de España?"),
                          chat.Turn("assistant", "Madrid", thinking="Okay, the user…", metrics=metrics, think=None),
                          chat.Turn("assistant", "Madrid.", think=False, compares=True, format=schema),
                          chat.Turn("user", "¿Y de Perú?"),
                          chat.Turn("assistant", "", thinking="Let me think", think="high", stopped=True)])
    settings = {"model": "qwen3:0.6b", "think": "off", "format": "schema", "schema": json.dumps(schema)}
    assert store.save_conversation("browser-a", conversation.id, chat.saved_form(conversation), settings)
    saved = store.conversation("browser-a")
    back = chat.from_saved_form(saved.data)
    fields = lambda t: (t.role, t.content, t.thinking, t.think, t.format, t.compares, t.stopped, t.metrics)  # noqa: E731
    assert [fields(t) for t in back] == [fields(t) for t in conversation.turns] and saved.settings == settings
    assert back[1].metrics.answer_tokens == 13


def test_the_list_is_the_latest_used_first_and_opening_one_makes_it_the_latest(store):
    first, second = a_conversation(), a_conversation()
    first.turns[0].content = "x" * 200  # a long first question: the title is shortened
    store.save_conversation("b" * 22, first.id, chat.saved_form(first), {})
    store.save_conversation("b" * 22, second.id, chat.saved_form(second), {})
    assert [s.id for s in store.conversations("b" * 22)] == [second.id, first.id]
    assert store.conversation("b" * 22).id == second.id
    store.mark_used("b" * 22, first.id)  # reopened from the list
    assert [s.id for s in store.conversations("b" * 22)] == [first.id, second.id]
    assert store.conversation("b" * 22).id == first.id
    assert store.conversations("b" * 22)[0].title == "x" * 59 + "…"


def test_each_browser_sees_only_its_own(store):
    mine = a_conversation()
    store.save_conversation("mine", mine.id, chat.saved_form(mine), {})
    store.save_server("mine", "http://127.0.0.1:11435")
    assert store.conversations("theirs") == [] and store.conversation("theirs") is None
    assert store.conversation("theirs", mine.id) is None  # knowing the conversation's id is not enough
    assert store.server("theirs") is None and store.experiment("theirs") is None
    assert not store.delete_conversation("theirs", mine.id)
    their_copy = chat.saved_form(chat.Conversation([chat.Turn("user", "overwrite?")]))
    store.save_conversation("theirs", mine.id, their_copy, {})  # the same id, another browser: another row
    assert chat.from_saved_form(store.conversation("mine", mine.id).data)[0].content.startswith("¿porqué")
    assert store.server("mine") == "http://127.0.0.1:11435"


def test_deleting_removes_it_from_the_file(store):
    conversation = a_conversation()
    conversation.turns[0].content = "a secret question"
    store.save_conversation("browser", conversation.id, chat.saved_form(conversation), {})
    assert store.delete_conversation("browser", conversation.id)
    assert store.conversations("browser") == [] and not store.delete_conversation("browser", conversation.id)
    with sqlite3.connect(store.path) as connection:  # gone from the file, not only from the list
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert connection.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 0
        connection.execute("VACUUM")
    assert b"a secret question" not in store.path.read_bytes()


def test_one_file_in_wal_mode_created_by_the_first_save(store):
    assert store.conversations("browser") == [] and store.server("browser") is None
    assert not store.path.exists()  # reading leaves nothing behind
    store.save_server("browser", "http://localhost:11434")
    assert store.path.exists()
    with sqlite3.connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert sorted(p.name for p in store.path.parent.iterdir() if not p.name.endswith(("-wal", "-shm"))) == \
        [persistence.FILE_NAME]


def test_an_experiment_comes_back_and_carries_on(store):
    reproducible = Condition("reproducible", {"seed": 123, "temperature": 0})
    plan = [Planned("gemma:2b", reproducible, n) for n in (1, 2, 3)]
    answer = json.loads(fixture_lines("generate-seed123-1")[0])
    experiment = Experiment("¿Por qué el cielo es azul?", 48, True, plan)
    experiment.runs = [finished_run(plan[0], {"seed": 123, "temperature": 0, "num_predict": 48}, False, answer, 1.5),
                       failed_run(plan[1], {"num_predict": 48}, True, "model 'x' not found", None)]
    experiment.gone.add("x")
    assert store.save_experiment("browser", experiment.as_dict())
    back = Experiment.from_dict(store.experiment("browser"))
    assert (back.prompt, back.num_predict, back.alternate, back.plan, back.runs, back.gone) == \
        (experiment.prompt, 48, True, plan, experiment.runs, {"x"})
    assert back.running and back.results().table.equals(experiment.results().table)
    back.cancel()
    store.save_experiment("browser", back.as_dict())
    assert not Experiment.from_dict(store.experiment("browser")).running  # a cancelled one stays cancelled
    assert store.experiment("other") is None


def test_a_saved_experiment_that_is_damaged_is_refused():
    for damaged in ({}, {"prompt": "x", "plan": [{"model": "m"}]}, {"prompt": "x", "num_predict": "many",
                                                                     "alternate": False, "plan": [], "runs": []}):
        with pytest.raises(ValueError):
            Experiment.from_dict(damaged)


def test_the_number_of_conversations_is_bounded_and_nothing_is_lost(store, monkeypatch):
    monkeypatch.setattr(persistence, "MAX_CONVERSATIONS", 3)
    saved = [a_conversation() for _ in range(3)]
    for conversation in saved:
        store.save_conversation("browser", conversation.id, chat.saved_form(conversation), {})
    extra = a_conversation()
    with pytest.raises(persistence.StoreFull) as refused:
        store.save_conversation("browser", extra.id, chat.saved_form(extra), {})
    assert (refused.value.key, refused.value.values) == ("store.full.count", {"limit": 3})
    assert {s.id for s in store.conversations("browser")} == {c.id for c in saved}  # none deleted to make room
    saved[0].ask("one more")  # the saved ones can still grow
    assert store.save_conversation("browser", saved[0].id, chat.saved_form(saved[0]), {})
    store.delete_conversation("browser", saved[1].id)
    assert store.save_conversation("browser", extra.id, chat.saved_form(extra), {})
    assert store.save_conversation("other", extra.id, chat.saved_form(extra), {})  # the bound is per browser


def test_the_size_is_bounded_per_browser(store, monkeypatch):
    monkeypatch.setattr(persistence, "MAX_BYTES", 50_000)
    big = chat.Conversation([chat.Turn("user", "x" * 30_000)])
    store.save_conversation("browser", big.id, chat.saved_form(big), {})
    other = chat.Conversation([chat.Turn("user", "y" * 30_000)])
    with pytest.raises(persistence.StoreFull) as refused:
        store.save_conversation("browser", other.id, chat.saved_form(other), {})
    assert refused.value.key == "store.full.size" and refused.value.values == {"limit_mb": 0.05}
    said = {lang: i18n.translate(lang, refused.value.key, **refused.value.values) for lang in ("es", "en")}
    assert "llegó a 0,1 MB," in said["es"] and "reached 0.1 MB," in said["en"]
    with pytest.raises(persistence.StoreFull):  # the lab's experiment counts too
        store.save_experiment("browser", {"runs": ["z" * 30_000]})
    assert chat.from_saved_form(store.conversation("browser").data)[0].content == "x" * 30_000
    store.save_conversation("another", other.id, chat.saved_form(other), {})  # another browser has its own room
    big.turns[0].content = "x" * 10  # a conversation that shrinks frees its room
    store.save_conversation("browser", big.id, chat.saved_form(big), {})
    assert store.save_conversation("browser", other.id, chat.saved_form(other), {})


@pytest.mark.parametrize("damage", ["not a database", "a folder"])
def test_a_file_that_cannot_be_used_is_said(store, damage):
    store.path.parent.mkdir(parents=True)
    if damage == "a folder":
        store.path.mkdir()
    else:
        store.path.write_bytes(b"this is not SQLite " * 100)
    for action in (lambda: store.conversations("b"), lambda: store.save_server("b", "http://x"),
                   lambda: store.conversation("b"), lambda: store.experiment("b")):
        with pytest.raises(persistence.StoreUnreadable) as said:
            action()
        assert said.value.key == "store.unreadable" and said.value.values["path"] == str(store.path)
        assert said.value.values["error"]


def test_a_data_directory_that_cannot_be_made_is_said(data_dir):
    data_dir.parent.mkdir(exist_ok=True)
    data_dir.write_text("a file where the folder should be")
    store = persistence.Store(data_dir / persistence.FILE_NAME)
    assert store.conversations("b") == []  # nothing saved yet: nothing to read
    with pytest.raises(persistence.StoreUnreadable) as said:
        store.save_server("b", "http://x")
    assert said.value.values["path"] == str(store.path)
    data_dir.unlink()


def test_a_damaged_conversation_is_refused_like_an_import():
    with pytest.raises(chat.ImportRefused):
        chat.from_saved_form({"messages": [{"role": "user", "content": "x", "context": ["a"]}]})
    with pytest.raises(chat.ImportRefused):
        chat.from_saved_form({"turns": []})
