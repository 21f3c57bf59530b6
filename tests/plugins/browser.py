"""What browser tests check on any page: the script run has finished, and no exception is shown."""


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Streamlit has finished running the script: no 'running' indicator, and an h1 shown."""
    page.wait_for_selector("h1", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def assert_no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, \
        page.locator('[data-testid="stException"]').first.inner_text()
