"""Card positions within a lane (a project's department): unique per lane, by a constraint
(`milestones_lane_position_unique`).

A new card goes after the lane's last one. Two creates racing for that slot on PostgreSQL both
read the same last position; the constraint makes the second insert wait for the first and then
fail, and the second takes the next slot (each retry reads the lane afresh). On SQLite writers
take turns (`BEGIN IMMEDIATE`), so the first read is already right. A position asked for
explicitly must be free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from tracker.core.errors import StateConflictError
from tracker.milestones.models import Milestone

logger = logging.getLogger(__name__)

# Each failed attempt means another write took the slot, so n racing creates need n attempts.
ATTEMPTS = 50


def lane_next_position(*, project_id: int, department_id: int) -> int:
    """The position after the lane's last card (0 for an empty lane)."""
    top = Milestone.objects.filter(project_id=project_id, department_id=department_id).aggregate(
        top=Max("position")
    )["top"]
    return 0 if top is None else top + 1


def lane_position_taken(
    *, project_id: int, department_id: int, position: int, exclude_pk: int | None = None
) -> bool:
    return (
        Milestone.objects.filter(
            project_id=project_id, department_id=department_id, position=position
        )
        .exclude(pk=exclude_pk)
        .exists()
    )


def _taken_error(position: int) -> ValidationError:
    return ValidationError(
        {
            "position": _("Another node of this lane already has position %(position)s.")
            % {"position": position}
        }
    )


def lane_position_check(
    *, project_id: int, department_id: int, position: int, exclude_pk: int | None = None
) -> None:
    """Refuse a position asked for explicitly when a card of the lane holds it."""
    if lane_position_taken(
        project_id=project_id, department_id=department_id, position=position, exclude_pk=exclude_pk
    ):
        raise _taken_error(position)


def lane_insert[T](
    write: Callable[[int], T], *, project_id: int, department_id: int, position: int | None
) -> T:
    """Run `write(position)` (an INSERT) in a savepoint: at `position`, which must be free, or
    after the lane's last card, taking the next slot while racing creates take the previous."""
    if position is not None:
        lane_position_check(project_id=project_id, department_id=department_id, position=position)
    for _attempt in range(ATTEMPTS):
        chosen = (
            position
            if position is not None
            else lane_next_position(project_id=project_id, department_id=department_id)
        )
        try:
            with transaction.atomic():
                return write(chosen)
        except IntegrityError:
            if not lane_position_taken(
                project_id=project_id, department_id=department_id, position=chosen
            ):
                raise  # another constraint
            if position is not None:
                raise _taken_error(position) from None
            logger.debug("Lane position %s was taken by a racing create; taking the next", chosen)
    raise StateConflictError(_("This lane is too busy right now; try again."))


def lane_save[T](write: Callable[[], T], *, milestone: Milestone) -> T:
    """Run `write()` (an UPDATE that moves `milestone` within or between lanes) in a savepoint:
    a racing write that took the same slot since it was checked makes it a 409."""
    try:
        with transaction.atomic():
            return write()
    except IntegrityError:
        if not lane_position_taken(
            project_id=milestone.project_id,
            department_id=milestone.department_id,
            position=milestone.position,
            exclude_pk=milestone.pk,
        ):
            raise
        raise StateConflictError(
            _("Another change just took position %(position)s in this lane; try again.")
            % {"position": milestone.position}
        ) from None
