"""The escalation ladder's fields on the project settings page, in real Chromium, in English and
Chinese: the owner changes the lead's, the owner's and the contact's delays and the nudge, saves,
and finds them kept; a bad value is refused with the field's error and changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import Page, expect

from tests.factories import ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LANGUAGES = ["en", "zh-hans"]
H = timedelta(hours=1)


def watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def field_group(page: Page, field: str):
    """The field's group (label, input, help, errors) on the settings page."""
    return page.locator(".field").filter(has=page.locator(f"#id_{field}"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_owner_edits_the_ladder_and_a_bad_value_is_refused(open_context, screenshot, language):
    owner = UserFactory(username="mei", first_name="Mei", last_name="Lin", language=language)
    contact = UserFactory(username="duty", first_name="Dao", last_name="Li")
    project = ProjectFactory(
        owner=owner,
        name="Double 11 大促",
        status="active",
        war_room=False,
        war_room_days_before=3,
        war_room_days_after=3,
        d_day=timezone.now() + timedelta(days=30),
    )
    zh = language == "zh-hans"
    save = "保存" if zh else "Save"
    page = open_context(owner).new_page()
    errors = watch(page)
    page.goto(f"/projects/{project.pk}/settings/")

    page.locator("#id_escalate_after_hours").fill("6")
    page.locator("#id_escalate_owner_after_hours").fill("12")
    page.locator("#id_escalate_contact_after_hours").fill("30")
    page.locator("#id_nudge_every_hours").fill("4")
    page.locator("#id_escalation_contact").select_option(label="Dao Li")
    page.get_by_role("button", name=save, exact=True).click()
    expect(page).to_have_url(f"/projects/{project.pk}/")
    project.refresh_from_db()
    assert (
        project.escalate_after,
        project.escalate_owner_after,
        project.escalate_contact_after,
        project.nudge_every,
        project.escalation_contact,
    ) == (6 * H, 12 * H, 30 * H, 4 * H, contact)

    # The page shows what was saved.
    page.goto(f"/projects/{project.pk}/settings/")
    for field, value in (
        ("escalate_after_hours", "6"),
        ("escalate_owner_after_hours", "12"),
        ("escalate_contact_after_hours", "30"),
        ("nudge_every_hours", "4"),
    ):
        expect(page.locator(f"#id_{field}")).to_have_value(value)
    expect(page.locator("#id_escalation_contact")).to_have_value(str(contact.pk))
    screenshot(page, f"project-settings-ladder-{language}")

    # A bad value: the owner's rung at 0 hours. The page answers with the field's error, in
    # the person's language, keeps what they typed, and nothing is saved.
    page.locator("#id_escalate_owner_after_hours").fill("0")
    page.locator("#id_nudge_every_hours").fill("2")
    page.get_by_role("button", name=save, exact=True).click()
    with translation.override(language):
        message = gettext("Ensure this value is greater than or equal to %(limit_value)s.") % {
            "limit_value": 1
        }
    expect(field_group(page, "escalate_owner_after_hours").locator(".errorlist")).to_contain_text(
        message
    )
    expect(page.locator("#id_escalate_owner_after_hours")).to_have_value("0")
    screenshot(page, f"project-settings-ladder-error-{language}")
    project.refresh_from_db()
    assert (project.escalate_owner_after, project.nudge_every) == (12 * H, 4 * H)
    assert errors == []
