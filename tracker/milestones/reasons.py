"""Checking the reason given with a write to a node (a deviation reason code and its text):
the node services, the project services and a lateness episode's promise share it."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from tracker.milestones.models import DeviationReason


@dataclass(frozen=True)
class Reason:
    """A checked reason: a code of an active `DeviationReason` and its text."""

    code: str = ""
    text: str = ""


def reason_resolve(
    *, reason_code: str | None, change_reason: str = "", needed: str | None = None
) -> Reason:
    """Check a reason given with a write. `needed` says why one is required (the message of
    the `reason_code` field error when none is given); an unknown or inactive code, or
    "other" without a text, is refused too. Nothing needed and nothing given: an empty one."""
    code = (reason_code or "").strip()
    text = (change_reason or "").strip()
    if not code:
        if needed:
            raise ValidationError({"reason_code": needed})
        return Reason(text=text)
    reason = DeviationReason.objects.active().filter(code=code).first()
    if reason is None:
        codes = ", ".join(DeviationReason.objects.active().values_list("code", flat=True))
        raise ValidationError(
            {
                "reason_code": _("Unknown reason code %(code)s; use one of: %(codes)s.")
                % {"code": code, "codes": codes}
            }
        )
    if reason.requires_text and not text:
        raise ValidationError(
            {"change_reason": _("Reason %(code)s needs a text: say why.") % {"code": code}}
        )
    return Reason(code=code, text=text)
