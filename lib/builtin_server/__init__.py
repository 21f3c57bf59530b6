"""Ollama-compatible server on llama.cpp with the bundled Gemma 3 270M (`python -m lib.builtin_server`).

Importing this package is cheap and does not need llama.cpp: the dashboard imports the constants.
Its host and port are lib.ollama_facts.BUILTIN_HOST and BUILTIN_PORT.
"""

# The packaged GGUF is Google's pretrained gemma-3-270m (base_model google/gemma-3-270m, no
# general.finetune in its metadata), not the instruction-tuned "-it" one Ollama calls gemma3:270m.
MODEL_NAME = "gemma3:270m-base"
SERVER_NAME = "Ollama Course Companion built-in server"
SERVER_HEADER = "ollama-course-companion-builtin"
OLLAMA_VERSION = "0.33.0"
