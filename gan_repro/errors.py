"""The one exception type for bad input: it names the setting and says what to do."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting the run cannot use; printed as one line, `error: <setting>: <message>`."""

    def __init__(self, setting: str, message: str):
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message
