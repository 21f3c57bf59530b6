"""Chat playground: /api/chat and /api/generate, streaming, options, history. (coming next)"""
from lib import ui

ui.ensure_app_frame()
ui.page_title("chat")
