"""Options and seed lab: repeated runs, identical-or-not, timing charts. (coming next)"""
from lib import ui

ui.ensure_app_frame()
ui.page_title("lab")
