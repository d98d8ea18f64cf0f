"""Message templates: how a send names one, and the categories Meta prices them by (DESIGN §2, §3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    """Meta's template categories; requests may spell them in any case, answers use these."""

    MARKETING = "marketing"
    UTILITY = "utility"
    AUTHENTICATION = "authentication"

    @classmethod
    def read(cls, text: object) -> Category | None:
        """Meta's or a caller's spelling (`UTILITY`, ` Marketing `), or None when it is none of them."""
        if not isinstance(text, str):
            return None
        try:
            return cls(text.strip().lower())
        except ValueError:
            return None


def language_key(language: str) -> str:
    """One spelling per language: Meta's webhooks have shown `en-US` where its send API takes `en_US`."""
    return language.strip().replace("-", "_").lower()


@dataclass(frozen=True)
class TemplateRef:
    """A template as a send names it: its name and language, exactly as the sender gave them."""

    name: str
    language: str

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the template within its WABA, whatever spelling of the language."""
        return self.name, language_key(self.language)
