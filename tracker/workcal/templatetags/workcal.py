from django import template

from tracker.workcal.selectors import calendar_coming_year_warning

register = template.Library()


@register.simple_tag
def coming_year_calendar_warning() -> str | None:
    return calendar_coming_year_warning()
