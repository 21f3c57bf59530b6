"""OLLAMA_HOST parsing is the official client's, case for case; validation and the allow-list."""
import re

import pytest
from hypothesis import given, strategies as st
from ollama._client import _parse_host as official_parse_host

from lib.hosts import AllowList, HostError, check_host, default_url, parse_host

# The official client documents its rules as doctests: take every one of them as a test case.
DOCUMENTED = re.findall(r">>> _parse_host\((.*?)\)\n\s*'(.*?)'", official_parse_host.__doc__)


def test_the_documented_cases_were_found():
    assert len(DOCUMENTED) >= 30


@pytest.mark.parametrize("argument, expected", DOCUMENTED)
def test_documented_cases(argument, expected):
    assert parse_host(eval(argument)) == expected  # arguments are Python literals: None, '1.2.3.4'


@given(st.text(alphabet="abc.:/[]1h9ptsx-", max_size=24))
def test_agrees_with_the_official_client_on_any_input(text):
    try:
        expected = official_parse_host(text)
    except ValueError:
        with pytest.raises(ValueError):
            parse_host(text)
        return
    assert parse_host(text) == expected


@pytest.mark.parametrize("text, key", [
    ("", "host.error.empty"), ("   ", "host.error.empty"),
    ("localhost:abc", "host.error.port"), ("localhost:99999", "host.error.port"),
    ("ftp://x", "host.error.scheme"), ("file:///etc/passwd", "host.error.scheme"),
    ("local host", "host.error.spaces"),
])
def test_bad_input_is_refused_before_sending(text, key):
    with pytest.raises(HostError) as caught:
        check_host(text)
    assert caught.value.key == key


def test_valid_input_is_normalised():
    assert check_host("  localhost:11435 ") == "http://localhost:11435"
    assert check_host("HTTPS://Aula.Example") == "https://aula.example:443"


def test_allow_list_refuses_other_servers():
    allow = AllowList.from_env({"COMPANION_ALLOWED_HOSTS": "127.0.0.1:11434, aula.example"})
    assert allow.urls == ("http://127.0.0.1:11434", "http://aula.example:11434")
    assert check_host("aula.example", allow) == "http://aula.example:11434"
    assert check_host("http://127.0.0.1:11434", allow) == "http://127.0.0.1:11434"
    with pytest.raises(HostError) as caught:
        check_host("169.254.169.254:80", allow)
    assert caught.value.key == "host.error.not_allowed"


def test_empty_allow_list_allows_anything():
    assert AllowList.from_env({}).allows("http://anything:1")


def test_default_url_from_environment():
    assert default_url({}) == "http://127.0.0.1:11434"
    assert default_url({"OLLAMA_HOST": "0.0.0.0"}) == "http://0.0.0.0:11434"
    assert default_url({"OLLAMA_HOST": ":11435"}) == "http://127.0.0.1:11435"
    assert default_url({"OLLAMA_HOST": "localhost:abc"}) == "http://127.0.0.1:11434"
