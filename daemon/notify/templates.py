"""Notification templates: shipped defaults per locale, overridable file by file.

A template is a UTF-8 text file `<locale>/<event>.txt` whose first line is
`Subject: ...`, followed by one blank line and the body. Placeholders use
`string.Template` syntax (`${name}`, `$$` for a literal dollar sign). Every template is
parsed and checked against the event's variable schema when the set is loaded, so a typo
in an operator's override stops `slad check-config`, not a 3 a.m. notification.

Locales are `ja` (the default) and `en`. A customer whose locale is unknown or unset gets
`ja`, the language of the contract; `en-US` or `en_GB` count as `en`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from daemon.notify.events import NotifyEvent
from daemon.notify.variables import TemplateValue, allowed_placeholders, text_values

DEFAULT_LOCALE = "ja"
LOCALES = ("ja", "en")
_SUBJECT_PREFIX = "Subject:"


class TemplateError(ValueError):
    """A template file is malformed, uses an unknown variable, or a render lacks one."""


def resolve_locale(locale: str | None) -> str:
    """The supported locale for a customer's setting, falling back to `ja`."""
    if not locale:
        return DEFAULT_LOCALE
    primary = locale.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LOCALES else DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class _Template:
    subject: Template
    body: Template


class TemplateSet:
    """All templates for every event and locale, checked and ready to render."""

    def __init__(self, templates: Mapping[tuple[str, NotifyEvent], _Template]):
        self._templates = dict(templates)

    @classmethod
    def load(cls, override_dir: Path | None = None) -> TemplateSet:
        """Load the shipped defaults, then any `<locale>/<event>.txt` in `override_dir`.

        Raises TemplateError naming the file for a malformed template, an unknown
        variable, or a file or folder in `override_dir` that matches no locale or event
        (almost always a typo that would otherwise be silently ignored).
        """
        shipped = resources.files("daemon").joinpath("templates", "notify")
        templates = {
            (locale, event): _parse(
                shipped.joinpath(locale, f"{event}.txt").read_text(encoding="utf-8"),
                event,
                f"shipped {locale}/{event}.txt",
            )
            for locale in LOCALES
            for event in NotifyEvent
        }
        if override_dir is not None:
            templates.update(_load_overrides(override_dir))
        return cls(templates)

    def render(
        self, event: NotifyEvent, locale: str | None, variables: Mapping[str, TemplateValue]
    ) -> tuple[str, str]:
        """Render `(subject, body)` for `event` in the customer's locale.

        The subject is folded onto one line, since a variable such as an alert summary may
        contain line breaks and a header must not.
        """
        chosen = resolve_locale(locale)
        template = self._templates[(chosen, NotifyEvent(event))]
        try:
            values = text_values(NotifyEvent(event), chosen, variables)
        except ValueError as error:
            raise TemplateError(str(error)) from None
        subject = " ".join(template.subject.substitute(values).split())
        return subject, template.body.substitute(values)


def _load_overrides(folder: Path) -> dict[tuple[str, NotifyEvent], _Template]:
    if not folder.is_dir():
        raise TemplateError(f"templates_dir {folder} is not a folder")
    events = {str(event) for event in NotifyEvent}
    found: dict[tuple[str, NotifyEvent], _Template] = {}
    for locale_dir in sorted(folder.iterdir()):
        if locale_dir.name.startswith("."):
            continue
        if not locale_dir.is_dir() or locale_dir.name not in LOCALES:
            raise TemplateError(f"{locale_dir}: expected a locale folder, one of {LOCALES}")
        for path in sorted(locale_dir.glob("*.txt")):
            if path.stem not in events:
                raise TemplateError(f"{path}: no event named {path.stem!r}")
            event = NotifyEvent(path.stem)
            found[(locale_dir.name, event)] = _parse(
                path.read_text(encoding="utf-8"), event, str(path)
            )
    return found


def _parse(text: str, event: NotifyEvent, origin: str) -> _Template:
    lines = text.splitlines()
    if not lines or not lines[0].startswith(_SUBJECT_PREFIX):
        raise TemplateError(f"{origin}: first line must be '{_SUBJECT_PREFIX} ...'")
    if len(lines) < 2 or lines[1].strip():
        raise TemplateError(f"{origin}: the subject line must be followed by a blank line")
    subject = Template(lines[0].removeprefix(_SUBJECT_PREFIX).strip())
    body = Template("\n".join(lines[2:]).rstrip("\n") + "\n")
    allowed = allowed_placeholders(event)
    for part in (subject, body):
        if not part.is_valid():
            raise TemplateError(f"{origin}: bad placeholder syntax (write $$ for a literal $)")
        unknown = sorted(set(part.get_identifiers()) - allowed)
        if unknown:
            raise TemplateError(
                f"{origin}: unknown variable(s) {', '.join(unknown)} for event {event}; "
                f"known: {', '.join(sorted(allowed))}"
            )
    return _Template(subject=subject, body=body)
