#!/usr/bin/env bash
# Gitpod and Codespaces: install Ollama if missing, start `ollama serve`, pull a small text model
# and a small vision model. Safe to run again: each step checks first.
set -euo pipefail

TEXT_MODEL="${TEXT_MODEL:-gemma3:1b}"      # the course's gemma:2b is older and larger
VISION_MODEL="${VISION_MODEL:-moondream}"  # llava (4.7 GB) works too, if the workspace has room

command -v ollama >/dev/null 2>&1 || curl -fsSL https://ollama.com/install.sh | sh

if ! curl -sf http://127.0.0.1:11434/ >/dev/null; then
  nohup ollama serve >/tmp/ollama.log 2>&1 &
  for _ in $(seq 1 60); do
    curl -sf http://127.0.0.1:11434/ >/dev/null && break
    sleep 1
  done
fi
curl -sf http://127.0.0.1:11434/ >/dev/null || { echo "ollama serve did not start; see /tmp/ollama.log"; exit 1; }

for model in "$TEXT_MODEL" "$VISION_MODEL"; do
  ollama list | awk '{print $1}' | grep -qx "$model\(:latest\)\?" || ollama pull "$model"
done
