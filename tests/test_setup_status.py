"""The built-in server's background preparation as the dashboard shows it: the launcher's status file
(lib/setup_status.py) read by the sidebar badge and the Server page (AppTest), in both languages."""
import os
import shutil
import time
import uuid

import pytest

from lib import setup_status
from lib.setup_status import SetupStatus
from tests.plugins.apptest import ROOT, open_app, texts, values


@pytest.fixture
def status_file(monkeypatch):
    folder = ROOT / ".cache" / f"test-setup-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield folder / "builtin-setup.json"
    shutil.rmtree(folder, ignore_errors=True)


def write(path, url: str, state: str, pid: int | None = None, **fields) -> None:
    setup_status.write(path, SetupStatus(state=state, url=url, log=".cache/builtin-setup.log",
                                         started=time.time() - 125, pid=pid or os.getpid(), **fields))


def sidebar_text(app) -> str:
    return str(values(app.sidebar.markdown)) + str(values(app.sidebar.caption))


# ------------------------------------------------------------------------------ the file
def test_read_ignores_a_missing_broken_or_stale_file(status_file, closed_port):
    assert setup_status.read(status_file) is None and setup_status.read(None) is None
    status_file.parent.mkdir(parents=True)
    status_file.write_text("{not json")
    assert setup_status.read(status_file) is None
    write(status_file, closed_port, "installing", pid=2 ** 22 + 12345)  # no such process: a launcher gone
    assert setup_status.read(status_file) is None
    write(status_file, closed_port, "installing", step="server")
    status = setup_status.read(status_file)
    assert status.preparing and not status.failed and 120 <= status.elapsed_s() < 200
    assert setup_status.for_url(closed_port + "/", status_file) == status
    assert setup_status.for_url("http://127.0.0.1:11434", status_file) is None


def test_log_tail_keeps_the_last_lines(status_file):
    status_file.parent.mkdir(parents=True)
    log = status_file.parent / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)) + "\n\n")
    assert setup_status.log_tail(log, 3) == ("line 97", "line 98", "line 99")
    assert setup_status.log_tail(status_file.parent / "missing.log") == ()


# ------------------------------------------------------------------------------ the dashboard
@pytest.mark.parametrize("lang, badge, message, down", [
    ("en", "Preparing the built-in server", "compiling llama.cpp, usually 5-10 minutes on a laptop (2 min so far)",
     "Not answering"),
    ("es", "Preparando el servidor integrado", "compilando llama.cpp, suele tardar de 5 a 10 minutos en una laptop (van 2 min)",
     "Sin respuesta"),
])
def test_preparing_replaces_server_down(monkeypatch, closed_port, status_file, lang, badge, message, down):
    write(status_file, closed_port, "installing", step="server")
    app = open_app(monkeypatch, closed_port, lang, env={setup_status.STATUS_ENV: str(status_file)})
    assert badge in sidebar_text(app) and down not in sidebar_text(app)
    assert any(message in i.value for i in app.info)
    assert any("guide" in i.value or "guía" in i.value for i in app.info)
    assert not app.error  # not "connection refused": it is on its way
    assert any("builtin-setup.log" in c.value for c in app.caption)


def test_starting_says_a_few_seconds(monkeypatch, closed_port, status_file):
    write(status_file, closed_port, "starting")
    app = open_app(monkeypatch, closed_port, env={setup_status.STATUS_ENV: str(status_file)})
    assert "Starting: a few seconds" in sidebar_text(app)
    assert any("Starting the built-in server" in i.value for i in app.info)


@pytest.mark.parametrize("lang, title, tools", [
    ("en", "The built-in server could not be prepared", "C/C++ compiler"),
    ("es", "No se pudo preparar el servidor integrado", "compilador de C/C++"),
])
def test_failed_build_shows_the_log_tail_and_the_commands_per_system(monkeypatch, closed_port, status_file,
                                                                     lang, title, tools):
    write(status_file, closed_port, "failed", command="pip install -r requirements-server.txt", code=1,
          tail=("CMake Error at CMakeLists.txt:3 (project):", "  No CMAKE_C_COMPILER could be found."))
    app = open_app(monkeypatch, closed_port, lang, env={setup_status.STATUS_ENV: str(status_file)})
    assert title in sidebar_text(app)
    assert any(title in e.value and "`pip install -r requirements-server.txt`" in e.value for e in app.error)
    codes = [c.value for c in app.code]
    assert "CMake Error at CMakeLists.txt:3 (project):\n  No CMAKE_C_COMPILER could be found." in codes
    assert "sudo apt install build-essential cmake" in codes
    assert "xcode-select --install\nbrew install cmake" in codes
    assert "winget install Kitware.CMake" in codes
    assert tools in texts(app) and "Visual Studio Build Tools" in texts(app)
    assert "curl -fsSL https://ollama.com/install.sh | sh" in codes  # the Ollama guide is still there


def test_full_disk_says_so_instead_of_the_compiler(monkeypatch, closed_port, status_file):
    write(status_file, closed_port, "failed", command="pip install -r requirements-server.txt", code=1,
          tail=("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device",))
    app = open_app(monkeypatch, closed_port, env={setup_status.STATUS_ENV: str(status_file)})
    assert any("The disk is full" in w.value for w in app.warning)
    assert "sudo apt install build-essential cmake" not in [c.value for c in app.code]


def test_another_server_typed_in_the_sidebar_is_used_normally(monkeypatch, closed_port, status_file, fake_ollama):
    """While the build runs, a real Ollama appears: the student types its address and it just works."""
    write(status_file, closed_port, "installing", step="server")
    app = open_app(monkeypatch, closed_port, env={setup_status.STATUS_ENV: str(status_file)})
    app.sidebar.text_input[0].set_value(fake_ollama.url).run()
    assert not app.exception
    assert "Ollama 0.33.0 · " in sidebar_text(app) and "Preparing" not in sidebar_text(app)
    assert not any("compiling llama.cpp" in i.value for i in app.info)


def test_a_stale_file_reads_as_server_down(monkeypatch, closed_port, status_file):
    write(status_file, closed_port, "installing", pid=2 ** 22 + 12345, step="server")
    app = open_app(monkeypatch, closed_port, env={setup_status.STATUS_ENV: str(status_file)})
    assert "Not answering" in sidebar_text(app)
    assert any("Connection refused at" in e.value for e in app.error)


def test_the_page_switches_by_itself_when_the_server_answers(monkeypatch, status_file, fake_ollama):
    """The badge's check sees the state change and reruns the app: the built-in server's badge."""
    fake_ollama.reply("GET", "/api/version", status=503, body={"error": "starting"})
    fake_ollama.reply("GET", "/", status=503, body={"error": "starting"})
    write(status_file, fake_ollama.url, "starting")
    app = open_app(monkeypatch, fake_ollama.url, env={setup_status.STATUS_ENV: str(status_file)})
    assert "Preparing the built-in server" in sidebar_text(app)
    fake_ollama.reset()
    fake_ollama.reply("GET", "/api/version", body={"version": "0.33.0", "builtin": {"engine": "llama.cpp"}})
    write(status_file, fake_ollama.url, "ready")
    from lib import ui
    ui.forget_server_lists()
    app.run()
    assert "Built-in server (smollm2:135m and gemma3:270m-base, llama.cpp)" in sidebar_text(app)
