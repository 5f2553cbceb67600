"""Per-person preferences by message kind × channel: the one place that says who gets what.

The fan-outs (alert emails in SQL, report emails, the digest) read `NotificationPreference`
through the helpers here; the settings page and the one-click unsubscribe link write through
`preferences_save` and `email_unsubscribe`. A missing row means "immediately".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext as _

from tracker.accounts.models import User
from tracker.notifications import links
from tracker.notifications.models import (
    DIGESTIBLE_KINDS,
    NOTIFICATION_KINDS,
    Delivery,
    NotificationPreference,
    PreferenceChannel,
    kind_label,
)

KINDS = tuple(kind for kind, _label in NOTIFICATION_KINDS)
CHANNELS = tuple(PreferenceChannel.values)
# The muted-project rule, its one home: while a project is muted, nothing about it is pushed
# to the person (email and chat, of every kind: alerts, mentions, comments); the in-app inbox
# still gets every item at once (it is quiet: the reader pulls it). Nothing is lost: alert
# emails raised while muted are held for the first daily digest after unmuting (issue 18,
# `tracker.alerts.fanout` and `digest`); mentions and comments, which have no digest, are in
# the inbox. `people_receiving` applies it to mentions and comments, `has_muted` to the
# @-mentions of group chat alerts (`integrations.selectors.chat_people`).
MUTE_SILENCES = frozenset({PreferenceChannel.EMAIL, PreferenceChannel.CHAT})
UNSUBSCRIBE_SALT = "milepost.notifications.unsubscribe"

Matrix = dict[tuple[str, str], str]


def delivery_choices(kind: str, channel: str) -> list[str]:
    """What a person may choose for `kind` by `channel`: the digest only for alert emails."""
    if channel == PreferenceChannel.EMAIL and kind in DIGESTIBLE_KINDS:
        return [Delivery.IMMEDIATE, Delivery.DIGEST, Delivery.OFF]
    return [Delivery.IMMEDIATE, Delivery.OFF]


def preference_matrix(*, user: User) -> Matrix:
    """Every (kind, channel) of `user` with its delivery, defaults filled in."""
    matrix = {(kind, channel): str(Delivery.IMMEDIATE) for kind in KINDS for channel in CHANNELS}
    for kind, channel, delivery in NotificationPreference.objects.filter(user=user).values_list(
        "kind", "channel", "delivery"
    ):
        if (kind, channel) in matrix:
            matrix[(kind, channel)] = delivery
    return matrix


@transaction.atomic
def preferences_save(*, user: User, choices: Mapping[tuple[str, str], str]) -> Matrix:
    """Set the (kind, channel) pairs of `choices` for `user`, the others unchanged.

    Raises ValidationError naming the pair for an unknown kind, channel or delivery, and for
    a digest where there is none; nothing is written then.
    """
    errors = []
    for (kind, channel), delivery in choices.items():
        if kind not in KINDS or channel not in CHANNELS:
            errors.append(_("Unknown kind or channel: %(pair)s.") % {"pair": f"{kind}/{channel}"})
        elif delivery not in delivery_choices(kind, channel):
            errors.append(
                _("“%(delivery)s” is not a choice for %(kind)s by %(channel)s.")
                % {
                    "delivery": delivery,
                    "kind": kind_label(kind),
                    "channel": PreferenceChannel(channel).label,
                }
            )
    if errors:
        raise ValidationError(errors)
    rows = NotificationPreference.objects.filter(user=user)
    for (kind, channel), delivery in choices.items():
        if delivery == Delivery.IMMEDIATE:
            rows.filter(kind=kind, channel=channel).delete()
        else:
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, channel=channel, defaults={"delivery": delivery}
            )
    return preference_matrix(user=user)


def email_unsubscribe(*, user: User, kinds: Iterable[str]) -> list[str]:
    """Switch the email of `kinds` off for `user` (the one-click link); returns those kinds."""
    kinds = [kind for kind in dict.fromkeys(kinds) if kind in KINDS]
    preferences_save(
        user=user, choices={(kind, PreferenceChannel.EMAIL): Delivery.OFF for kind in kinds}
    )
    return kinds


def kinds_switched_off(*, user: User, channel: str) -> set[str]:
    """The kinds `user` switched off by `channel`: an email rendered at send time leaves them
    out, so a choice made after a message was queued (or held for the digest) still holds."""
    return kinds_switched_off_by_user(user_ids=[user.pk], channel=channel).get(user.pk, set())


def kinds_switched_off_by_user(*, user_ids: Iterable[int], channel: str) -> dict[int, set[str]]:
    """`kinds_switched_off` of many people in one query: {user id: kinds}, only those with any."""
    off: dict[int, set[str]] = {}
    for user_id, kind in NotificationPreference.objects.filter(
        user_id__in=list(user_ids), channel=channel, delivery=Delivery.OFF
    ).values_list("user_id", "kind"):
        off.setdefault(user_id, set()).add(kind)
    return off


def users_receiving(users: QuerySet[User], *, kind: str, channel: str) -> QuerySet[User]:
    """`users` without those who switched `kind` off by `channel`."""
    off = NotificationPreference.objects.filter(
        user=OuterRef("pk"), kind=kind, channel=channel, delivery=Delivery.OFF
    )
    return users.filter(~Exists(off))


def people_receiving(
    users: QuerySet[User], *, kind: str, channel: str, project_id: int
) -> QuerySet[User]:
    """`users` who hear of `kind` about project `project_id` by `channel`: active, the kind
    not switched off by that channel, and for a push channel (`MUTE_SILENCES`) the project
    not muted (the scan's fan-out SQL says the same for alerts)."""
    receiving = users_receiving(users.filter(is_active=True), kind=kind, channel=channel)
    if channel in MUTE_SILENCES:
        receiving = receiving.exclude(muted_projects=project_id)
    return receiving


def has_muted(*, user, project) -> Exists:
    """Whether person `user` muted project `project` (ids, `OuterRef`s or expressions): the
    mute as a condition, for a read that decides a push per row."""
    return Exists(User.muted_projects.through.objects.filter(user_id=user, project_id=project))


# The signed one-click link (RFC 8058) --------------------------------------------------------


def unsubscribe_token(*, user: User, kinds: Iterable[str]) -> str:
    """A token naming the person and the kinds to switch off; only this server can make one."""
    return signing.dumps(
        {"u": user.pk, "k": sorted(set(kinds))}, salt=UNSUBSCRIBE_SALT, compress=True
    )


def unsubscribe_read(token: str) -> tuple[User, list[str]]:
    """The person and kinds of a token; ValidationError for a forged, broken or stale one."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        user = User.objects.get(pk=int(data["u"]), is_active=True)
        kinds = [kind for kind in data["k"] if kind in KINDS]
    except (signing.BadSignature, User.DoesNotExist, KeyError, TypeError, ValueError) as exc:
        raise ValidationError(_("This unsubscribe link is not valid.")) from exc
    if not kinds:
        raise ValidationError(_("This unsubscribe link is not valid."))
    return user, kinds


def unsubscribe_headers(*, user: User, kinds: Iterable[str]) -> dict[str, str]:
    """The List-Unsubscribe headers (RFC 2369 and RFC 8058 one-click) of an email about `kinds`."""
    url = links.unsubscribe_url(unsubscribe_token(user=user, kinds=kinds))
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
