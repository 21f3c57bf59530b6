"""lib/create_model.py: the Modelfile and the `/api/create` request of a new model, the checks made
before sending, and the creation followed to its end (no Streamlit)."""
import pytest

from lib import create_model
from lib.client import OllamaClient, ServerError, StreamError
from lib.create_model import Creation, NewModel

PROFE = NewModel("profe", "smollm2:135m", "Eres un profesor paciente.", {"temperature": 0.2})
CREATED = ['{"status":"using existing layer sha256:b179c9523d0e"}', '{"status":"creating new layer sha256:2c37b0fd3490"}',
           '{"status":"writing manifest"}', '{"status":"success"}']


def test_the_modelfile_of_the_course_example():
    assert create_model.modelfile(PROFE) == (
        'FROM smollm2:135m\nSYSTEM """Eres un profesor paciente."""\nPARAMETER temperature 0.2\n')


def test_modelfile_writes_numbers_bare_strings_quoted_and_one_stop_line_each():
    new = NewModel("m", "gemma3:270m-base", "", {"num_ctx": 2048, "stop": ["<|im_end|>", "User:"], "use_mmap": False})
    assert create_model.modelfile(new) == ('FROM gemma3:270m-base\nPARAMETER num_ctx 2048\n'
                                           'PARAMETER stop "<|im_end|>"\nPARAMETER stop "User:"\n'
                                           'PARAMETER use_mmap false\n')


def test_request_body_has_only_what_is_set():
    assert create_model.request_body(PROFE) == {"model": "profe", "from": "smollm2:135m",
                                                "system": "Eres un profesor paciente.",
                                                "parameters": {"temperature": 0.2}, "stream": True}
    assert create_model.request_body(NewModel("copia", "smollm2:135m")) == {
        "model": "copia", "from": "smollm2:135m", "stream": True}


@pytest.mark.parametrize("new", [PROFE, NewModel("copia", "smollm2:135m")])
def test_the_client_sends_the_body_shown(fake_ollama, new):
    fake_ollama.stream("POST", "/api/create", CREATED)
    stream = OllamaClient(fake_ollama.url).create(**new.arguments())
    assert [chunk["status"] for chunk in stream][-1] == "success"
    assert fake_ollama.bodies("/api/create") == [create_model.request_body(new)]


def test_check_accepts_the_example_and_types_its_parameters():
    new, refusals = create_model.check(" profe ", "smollm2:135m", "  Eres un profesor paciente.\n",
                                       {"temperature": 0.2, "num_ctx": 2048.0})
    assert refusals == []
    assert new == NewModel("profe", "smollm2:135m", "Eres un profesor paciente.", {"temperature": 0.2, "num_ctx": 2048})
    assert type(new.parameters["num_ctx"]) is int  # as Ollama keeps an int option given 2048.0


@pytest.mark.parametrize("name, source, chosen, keys", [
    ("mi profe", "smollm2:135m", {}, ["models.name.spaces"]),
    ("profe::1", "smollm2:135m", {}, ["models.name.invalid"]),
    ("", "", {}, ["models.name.empty", "models.create.no_source"]),
    ("profe", "smollm2:135m", {"temperature": "low"}, ["options.problem.type"]),
    ("profe", "smollm2:135m", {"temperatura": 0.2}, ["options.problem.unknown"]),
    ("profe", "smollm2:135m", {"stop": "<|im_end|>"}, ["options.problem.type"]),  # a list of strings
    ("profe", "smollm2:135m", {"mirostat": 1}, ["options.problem.removed"]),
])
def test_check_refuses_before_sending(name, source, chosen, keys):
    new, refusals = create_model.check(name, source, "", chosen)
    assert new is None and [r.key for r in refusals] == keys


def test_a_taken_name_is_replaced_as_ollama_does():
    installed = ["smollm2:135m", "profe:latest"]
    assert create_model.replaces("profe", installed) and create_model.replaces("Profe:latest", installed)
    assert not create_model.replaces("profe:v2", installed)


def test_creation_streams_the_status_lines(fake_ollama):
    fake_ollama.stream("POST", "/api/create", CREATED)
    creation = Creation(OllamaClient(fake_ollama.url), PROFE)
    seen = [list(statuses) for statuses in creation]
    assert seen[-1] == ["using existing layer sha256:b179c9523d0e", "creating new layer sha256:2c37b0fd3490",
                        "writing manifest", "success"]
    assert len(seen) == 4 and creation.succeeded and creation.error is None
    assert creation.exchange.path == "/api/create"


def test_creation_error_status_and_error_line(fake_ollama):
    fake_ollama.reply("POST", "/api/create", 400, {"error": 'option "temperature" must be of type float32'})
    creation = Creation(OllamaClient(fake_ollama.url), PROFE)
    assert list(creation) == [] and not creation.succeeded
    assert isinstance(creation.error, ServerError) and creation.error.status == 400
    assert creation.exchange is creation.error.exchange
    fake_ollama.stream("POST", "/api/create", ['{"status":"pulling manifest"}',
                                               '{"error":"pull model manifest: file does not exist"}'])
    creation = Creation(OllamaClient(fake_ollama.url), PROFE)
    list(creation)
    assert creation.statuses == ["pulling manifest"] and isinstance(creation.error, StreamError)


def test_creation_refused_in_read_only_mode(fake_ollama):
    creation = Creation(OllamaClient(fake_ollama.url), PROFE, environ={"COMPANION_READ_ONLY": "1"})
    assert list(creation) == [] and creation.finished and not creation.succeeded
    assert fake_ollama.bodies("/api/create") == []


def test_a_stream_that_ends_without_success_is_not_a_success(fake_ollama):
    fake_ollama.stream("POST", "/api/create", CREATED[:2])
    creation = Creation(OllamaClient(fake_ollama.url), PROFE)
    list(creation)
    assert creation.finished and creation.error is None and not creation.succeeded
