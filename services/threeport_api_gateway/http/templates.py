"""``google.api.http`` path templates: parse ``/v1alpha1/{parent=projects/*}/builds:report`` and
match request paths against it.

The grammar is the one of ``google/api/http.proto``: literal segments, ``*`` (one segment),
``**`` (the rest of the path), variables ``{field.path}`` or ``{field.path=segments}`` and an
optional ``:verb``. Resource ids never contain ``:``, so a wildcard stops at one; that keeps
``.../deployments/shop:plan`` from matching ``GetDeployment``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_VARIABLE = re.compile(r"\{([a-z_][a-z0-9_.]*)(?:=([^}]*))?\}")


class TemplateError(ValueError):
    """A template in the protos is not valid; raised when the gateway loads its routes."""


@dataclass(frozen=True)
class PathTemplate:
    template: str
    regex: re.Pattern[str]
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, template: str) -> PathTemplate:
        if not template.startswith("/"):
            raise TemplateError(f"path template {template!r} must start with '/'")
        fields: list[str] = []
        pattern = ""
        position = 0
        for variable in _VARIABLE.finditer(template):
            pattern += _segments(template[position : variable.start()], template)
            field, inner = variable.group(1), variable.group(2) or "*"
            fields.append(field)
            pattern += f"(?P<v{len(fields) - 1}>{_segments(inner, template)})"
            position = variable.end()
        pattern += _segments(template[position:], template)
        return cls(template, re.compile(f"^{pattern}$"), tuple(fields))

    def match(self, path: str) -> dict[str, str] | None:
        """The variables' values (URL-decoded) when ``path`` matches, else None."""
        found = self.regex.match(path)
        if found is None:
            return None
        return {field: unquote(found.group(f"v{index}")) for index, field in enumerate(self.fields)}


def _segments(text: str, template: str) -> str:
    if "{" in text or "}" in text:
        raise TemplateError(f"path template {template!r} has an unbalanced or nested variable")
    parts = re.split(r"(\*\*|\*)", text)
    translated = []
    for part in parts:
        if part == "**":
            translated.append("[^:]+")
        elif part == "*":
            translated.append("[^/:]+")
        else:
            translated.append(re.escape(part))
    return "".join(translated)
