"""Tests in real editors (code-server in Chromium, headless Neovim)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "editor: runs a real editor end to end (select with -m editor, leave out with -m 'not editor')"
    )
