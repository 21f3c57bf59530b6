"""Model library: the course catalog, installed models, details, pull, delete. (coming next)"""
from lib import ui

ui.ensure_app_frame()
ui.page_title("models")
