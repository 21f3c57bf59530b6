"""Tool calling: the three local functions, the check of every call against its schema, and the loop
against the scripted server (qwen3:0.6b's tool call and answer, written in Ollama v0.33's format)."""
import json
from datetime import datetime, timezone

import pytest

from lib import tools
from lib.client import CapabilityMissing, OllamaClient
from tests.plugins.fake_ollama import Script, fixture_lines

NOON_UTC = datetime(2026, 8, 22, 12, 0, tzinfo=timezone.utc)


def reply(name: str) -> Script:
    return Script(body=json.loads(fixture_lines(name)[0]))


def tool_call(name, arguments) -> Script:
    """A non-streamed answer that calls one function (as Ollama writes it)."""
    return Script(body={"model": "qwen3:0.6b", "created_at": "2026-08-22T10:15:03.5Z",
                        "message": {"role": "assistant", "content": "",
                                    "tool_calls": [{"id": "call_x1", "function": {"index": 0, "name": name,
                                                                                  "arguments": arguments}}]},
                        "done": True, "done_reason": "stop"})


def new_run(question="What time is it in Lima, and how much is 18.5 times 4?"):
    return tools.ToolRun("qwen3:0.6b", question, tools.definitions())


def spy_tools(calls: list) -> dict:
    """The real tools, each recording that it ran."""
    def recording(tool):
        def run(**arguments):
            calls.append((tool.name, arguments))
            return tool.function(**arguments)
        return run
    return {tool.name: tools.Tool(tool.name, tool.description, tool.parameters, recording(tool))
            for tool in tools.TOOLS}


# ------------------------------------------------------------------------------ the functions
def test_current_time_reads_the_fixed_table():
    assert tools.current_time("Lima", NOON_UTC) == {"city": "Lima", "time": "07:00", "date": "2026-08-22",
                                                    "utc_offset": "-05:00"}
    assert tools.current_time("New Delhi", NOON_UTC)["time"] == "17:30"
    assert tools.current_time("Tokyo", datetime(2026, 8, 22, 20, 30, tzinfo=timezone.utc))["date"] == "2026-08-23"
    assert tools.current_time("Reykjavik", NOON_UTC)["utc_offset"] == "+00:00"


@pytest.mark.parametrize("a, operation, b, result", [
    (18.5, "multiply", 4, 74), (2, "add", 3, 5), (1, "divide", 3, 1 / 3), (7, "subtract", 10, -3),
])
def test_calculate(a, operation, b, result):
    assert tools.calculate(a, operation, b)["result"] == pytest.approx(result)


def test_whole_results_read_without_a_decimal_point():
    assert json.dumps(tools.calculate(18.5, "multiply", 4)["result"]) == "74"


@pytest.mark.parametrize("arguments, key", [
    ((1, "divide", 0), "today.tools.fail.zero"),
    ((1e308, "multiply", 10), "today.tools.fail.too_large"),
    ((10 ** 400, "add", 1), "today.tools.fail.too_large"),
])
def test_calculate_refuses_what_has_no_answer(arguments, key):
    with pytest.raises(tools.ToolFailure) as failure:
        tools.calculate(*arguments)
    assert failure.value.refusal.key == key


@pytest.mark.parametrize("value, source, target, result", [
    (10, "km", "mi", 6.213712), (100, "celsius", "fahrenheit", 212), (0, "kelvin", "celsius", -273.15),
    (2, "lb", "kg", 0.907185), (1, "mi", "ft", 5280),
])
def test_convert_units(value, source, target, result):
    assert tools.convert_units(value, source, target)["result"] == pytest.approx(result)


def test_converting_between_different_quantities_is_refused():
    with pytest.raises(tools.ToolFailure) as failure:
        tools.convert_units(3, "km", "kg")
    assert failure.value.refusal.key == "today.tools.fail.units"
    assert failure.value.message == "cannot convert length (km) to mass (kg)"


def test_the_tools_array_as_sent():
    sent = tools.definitions()
    assert [d["function"]["name"] for d in sent] == ["get_current_time", "calculate", "convert_units"]
    assert all(d["type"] == "function" and d["function"]["parameters"]["type"] == "object" for d in sent)
    json.dumps(sent)  # plain JSON


# ------------------------------------------------------------------------------ one call checked
@pytest.mark.parametrize("arguments, problem", [
    ({"a": "eighteen", "operation": "multiply", "b": 4}, "'eighteen' is not of type 'number'"),
    ({"a": True, "operation": "multiply", "b": 4}, "True is not of type 'number'"),
    ({"a": 1, "operation": "power", "b": 4}, "'power' is not one of ['add', 'subtract', 'multiply', 'divide']"),
    ({"a": 1, "operation": "add"}, "'b' is a required property"),
    ({"a": 1, "operation": "add", "b": 2, "now": "x"}, "Additional properties are not allowed ('now' was unexpected)"),
])
def test_arguments_that_do_not_match_the_schema_are_never_run(arguments, problem):
    ran = []
    outcome = tools.execute({"function": {"name": "calculate", "arguments": arguments}}, spy_tools(ran))
    assert ran == [] and not outcome.ran
    assert outcome.refusal.key == "today.tools.refused.schema" and problem in outcome.problems
    assert json.loads(outcome.content)["error"].startswith("invalid arguments: ")
    assert outcome.message == {"role": "tool", "content": outcome.content, "tool_name": "calculate"}


@pytest.mark.parametrize("call, key", [
    ({"function": {"name": "get_weather", "arguments": {"city": "Lima"}}}, "today.tools.refused.unknown"),
    ({"function": {"name": None, "arguments": {}}}, "today.tools.refused.unknown"),
    ({"function": "calculate"}, "today.tools.refused.malformed"),
    ("calculate(1, 2)", "today.tools.refused.malformed"),
    ({"function": {"name": "calculate", "arguments": "{1: 2"}}, "today.tools.refused.not_json"),
    ({"function": {"name": "calculate", "arguments": [1, "add", 2]}}, "today.tools.refused.not_object"),
    ({"function": {"name": "calculate", "arguments": "[1, 2]"}}, "today.tools.refused.not_object"),
])
def test_malformed_calls_get_an_error_and_run_nothing(call, key):
    ran = []
    outcome = tools.execute(call, spy_tools(ran))
    assert ran == [] and not outcome.ran and outcome.refusal.key == key
    assert "error" in json.loads(outcome.content)


def test_an_unknown_function_is_told_which_ones_exist():
    outcome = tools.execute({"id": "call_9", "function": {"name": "get_weather", "arguments": {}}})
    assert json.loads(outcome.content) == {
        "error": "unknown function 'get_weather'; the functions are: get_current_time, calculate, convert_units"}
    assert outcome.message == {"role": "tool", "content": outcome.content, "tool_name": "get_weather",
                               "tool_call_id": "call_9"}


def test_arguments_given_as_a_json_string_are_read_and_said_so():
    ran = []
    outcome = tools.execute({"function": {"name": "calculate", "arguments": '{"a": 2, "operation": "add", "b": 3}'}},
                            spy_tools(ran))
    assert outcome.ran and outcome.arguments_were_text
    assert ran == [("calculate", {"a": 2, "operation": "add", "b": 3})]
    assert json.loads(outcome.content)["result"] == 5


def test_missing_arguments_count_as_an_empty_object():
    outcome = tools.execute({"function": {"name": "get_current_time"}})
    assert not outcome.ran and outcome.problems == ["'city' is a required property"]


def test_a_function_that_refuses_answers_the_model_with_its_reason():
    outcome = tools.execute({"function": {"name": "calculate", "arguments": {"a": 1, "operation": "divide", "b": 0}}})
    assert not outcome.ran and outcome.refusal.key == "today.tools.fail.zero"
    assert json.loads(outcome.content) == {"error": "division by zero"}


# ------------------------------------------------------------------------------ the loop
def test_a_call_its_results_and_the_final_answer(fake_ollama):
    fake_ollama.sequence("POST", "/api/chat", [reply("today-chat-tool-call"), reply("today-chat-tool-answer")])
    seen = []
    run = tools.ask(OllamaClient(fake_ollama.url), new_run(), on_round=seen.append)
    assert run.answer == "In Lima it is 05:15 right now (UTC-05:00), and 18.5 × 4 = 74."
    assert run.ended and not run.capped and run.error is None
    assert len(run.rounds) == 2 and len(seen) == 1  # told of the round that called tools
    first = run.rounds[0]
    assert [c.name for c in first.calls] == ["get_current_time", "calculate"] and all(c.ran for c in first.calls)
    assert first.exchange.path == "/api/chat" and first.exchange.status == 200

    asked, answered = fake_ollama.bodies("/api/chat")
    assert asked["stream"] is False and asked["tools"] == tools.definitions()
    assert asked["messages"] == [{"role": "user", "content": "What time is it in Lima, and how much is 18.5 times 4?"}]
    user, assistant, time_result, product = answered["messages"]
    assert assistant == {"role": "assistant", "content": "", "tool_calls": first.tool_calls}  # no reasoning sent back
    assert time_result["role"] == "tool" and time_result["tool_name"] == "get_current_time"
    assert time_result["tool_call_id"] == "call_k3v9x2qa"
    assert json.loads(time_result["content"])["city"] == "Lima"
    assert json.loads(time_result["content"])["utc_offset"] == "-05:00"
    assert product == {"role": "tool", "content": '{"a": 18.5, "operation": "multiply", "b": 4, "result": 74}',
                       "tool_name": "calculate", "tool_call_id": "call_7mw1c0zt"}


def test_an_unknown_function_is_answered_and_the_model_tries_again(fake_ollama):
    fake_ollama.sequence("POST", "/api/chat", [tool_call("get_weather", {"city": "Lima"}),
                                              reply("today-chat-tool-call"), reply("today-chat-tool-answer")])
    run = tools.ask(OllamaClient(fake_ollama.url), new_run())
    assert run.answer.startswith("In Lima") and len(run.rounds) == 3
    refused = run.rounds[0].calls[0]
    assert not refused.ran and refused.refusal.key == "today.tools.refused.unknown"
    sent_back = fake_ollama.bodies("/api/chat")[1]["messages"][-1]
    assert sent_back["role"] == "tool" and sent_back["tool_name"] == "get_weather"
    assert "unknown function 'get_weather'" in json.loads(sent_back["content"])["error"]


def test_wrong_argument_types_are_answered_with_the_schemas_complaint(fake_ollama):
    fake_ollama.sequence("POST", "/api/chat", [tool_call("calculate", {"a": "18,5", "operation": "multiply", "b": 4}),
                                              reply("today-chat-tool-answer")])
    ran = []
    run = tools.ask(OllamaClient(fake_ollama.url), new_run(), tools=spy_tools(ran))
    assert ran == [] and run.answer is not None
    sent_back = fake_ollama.bodies("/api/chat")[1]["messages"][-1]
    assert json.loads(sent_back["content"]) == {"error": "invalid arguments: '18,5' is not of type 'number'"}


def test_arguments_as_a_string_go_through_the_loop(fake_ollama):
    fake_ollama.sequence("POST", "/api/chat", [tool_call("get_current_time", '{"city": "Tokyo"}'),
                                              reply("today-chat-tool-answer")])
    run = tools.ask(OllamaClient(fake_ollama.url), new_run())
    outcome = run.rounds[0].calls[0]
    assert outcome.ran and outcome.arguments_were_text
    assert json.loads(fake_ollama.bodies("/api/chat")[1]["messages"][-1]["content"])["city"] == "Tokyo"


def test_a_model_that_keeps_calling_tools_is_stopped(fake_ollama):
    fake_ollama.sequence("POST", "/api/chat", [tool_call("calculate", {"a": 1, "operation": "add", "b": n})
                                              for n in range(tools.MAX_ROUNDS + 3)])
    run = tools.ask(OllamaClient(fake_ollama.url), new_run())
    assert run.capped and run.ended and run.answer is None and run.error is None
    assert len(run.rounds) == tools.MAX_ROUNDS == len(fake_ollama.bodies("/api/chat"))
    last = fake_ollama.bodies("/api/chat")[-1]["messages"]
    assert len(last) == 1 + 2 * (tools.MAX_ROUNDS - 1)  # the question, then a call and a result per round


def test_an_error_keeps_the_rounds_done(fake_ollama):
    fake_ollama.sequence("POST", "/api/chat", [
        reply("today-chat-tool-call"),
        Script(503, {"error": "server busy, please try again.  maximum pending requests exceeded"})])
    run = tools.ask(OllamaClient(fake_ollama.url), new_run())
    assert len(run.rounds) == 1 and run.error.status == 503 and run.ended and run.answer is None


def test_a_model_without_tools_is_refused_by_the_server(fake_ollama):
    fake_ollama.reply("POST", "/api/chat", 400, {"error": "registry.ollama.ai/library/gemma3:270m does not support tools"})
    run = tools.ask(OllamaClient(fake_ollama.url), tools.ToolRun("gemma3:270m", "2+2?", tools.definitions()))
    assert isinstance(run.error, CapabilityMissing) and run.error.capabilities == ("tools",)
    assert run.rounds == [] and run.ended


def test_an_interrupted_run_is_not_ended():
    run = new_run()
    run.rounds.append(tools.Round(None, {"role": "assistant", "content": "", "tool_calls": []}))
    assert not run.ended
