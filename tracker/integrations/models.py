"""Chat identities, calendar feeds and the rate limiter's store. Channels live in
`tracker.notifications.models`: the outbox sends to them."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tracker.core.fields import EncryptedCharField


class ChatPlatform(models.TextChoices):
    SLACK = "slack", _("Slack")
    FEISHU = "feishu", _("Feishu / Lark")
    DINGTALK = "dingtalk", _("DingTalk")
    WECOM = "wecom", _("WeCom")
    TEAMS = "teams", _("Microsoft Teams")


class ChatIdentity(models.Model):
    """A chat account (platform + the platform's user id) linked to a Milepost user.

    Slack slash commands carry only an opaque user id, so people link it once by following the
    signed link the bot offers them; platforms that send an email are mapped by email instead.
    Signing in through Feishu, DingTalk or WeCom links the account by itself, with the ids the
    platform gave (`external_id` is the one its @mentions use) and, for the platforms that
    @mention by mobile number (DingTalk, WeCom), the number, stored encrypted.

    Personal data (PIPL): only what @mentions and commands need. The person sees and removes
    these on their Chat accounts page; a deactivated person's go `CHAT_IDENTITY_RETENTION_DAYS`
    after deactivation (`owner_inactive_since`, set by the daily purge that first sees it).
    """

    platform = models.CharField(_("platform"), max_length=10, choices=ChatPlatform.choices)
    external_id = models.CharField(_("chat user id"), max_length=200)
    display_name = models.CharField(_("chat name"), max_length=200, blank=True)
    open_id = models.CharField(_("open id"), max_length=200, blank=True)
    union_id = models.CharField(_("union id"), max_length=200, blank=True)
    mobile = EncryptedCharField(_("mobile number"), max_length=32, blank=True)
    owner_inactive_since = models.DateTimeField(null=True, blank=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_identities",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["platform", "display_name"]
        verbose_name = _("chat identity")
        verbose_name_plural = _("chat identities")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "external_id"], name="integrations_chatidentity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()}:{self.display_name or self.external_id}"

    @property
    def mobile_masked(self) -> str:
        """The stored mobile number as the person's page shows it (138****5678)."""
        mobile = self.mobile
        return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) >= 8 else "*" * len(mobile)


class ChatAppPlatform(models.TextChoices):
    FEISHU = "feishu", _("Feishu / Lark app bot")
    DINGTALK = "dingtalk", _("DingTalk enterprise robot")
    WECOM = "wecom", _("WeCom self-built app")


class ChatApp(models.Model):
    """A chat platform app whose callbacks Milepost receives natively (no bridge): its
    commands, and for Feishu its card buttons. Its URL names it by id; every request to it is
    verified with its credentials, which are stored encrypted like channel secrets.

    What each field holds, per platform:

    | field | Feishu | DingTalk | WeCom |
    | app_id | App ID (cli_…) | AppKey (robot code) | CorpID (the receiver id) |
    | app_secret | App Secret (replies) | AppSecret (the `sign` header) | — |
    | token | Verification Token | — | Token |
    | aes_key | Encrypt Key (optional) | — | EncodingAESKey (43 characters) |
    """

    platform = models.CharField(_("platform"), max_length=10, choices=ChatAppPlatform.choices)
    name = models.CharField(_("name"), max_length=100)
    app_id = models.CharField(_("app id"), max_length=100, blank=True)
    app_secret = EncryptedCharField(_("app secret"), max_length=200, blank=True)
    token = EncryptedCharField(_("verification token"), max_length=200, blank=True)
    aes_key = EncryptedCharField(_("encryption key"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["platform", "name"]
        verbose_name = _("chat app")
        verbose_name_plural = _("chat apps")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_platform_display()})"


class CalendarFeed(models.Model):
    """A secret iCalendar URL: a user's own nodes (no project) or one project's nodes.

    The token in the URL is the whole credential. Like an API token it is stored only as its
    SHA-256 (and a prefix to recognise it), so its URL is shown once, when it is made; revoking
    deletes the row, regenerating replaces the token.
    """

    PREFIX_LENGTH = 6

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feeds",
        verbose_name=_("project"),
    )
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["project__name", "id"]
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        constraints = [
            # Two partial constraints rather than NULLS NOT DISTINCT, which SQLite lacks.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(project__isnull=True),
                name="integrations_calendarfeed_one_personal",
            ),
            models.UniqueConstraint(
                fields=["user", "project"],
                condition=Q(project__isnull=False),
                name="integrations_calendarfeed_one_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.project or _('my nodes')}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class SendWindow(models.Model):
    """Recent send times of one chat endpoint: the rate limiter's store when Redis is absent."""

    key = models.CharField(max_length=80, unique=True)
    sent_at = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.key
