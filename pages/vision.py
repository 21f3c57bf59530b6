"""Image description: Pillow, base64 both ways, multimodal models. (coming next)"""
from lib import ui

ui.ensure_app_frame()
ui.page_title("vision")
