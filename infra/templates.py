"""Server configuration files, written into the state folder from infra/templates/."""

from __future__ import annotations

from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render(template: str, target: Path, **values: object) -> Path:
    """Write ``target`` from a template; a missing value is an error, not an empty string."""
    text = Template((TEMPLATES / template).read_text()).substitute(values)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target
