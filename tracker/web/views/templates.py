"""The template editor: staff edit a template's nodes, offsets, times and dependencies in the
browser, through `template_save` and its validation (the same as the API's), and duplicate
a template to start a new one from it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tracker.accounts.models import Department
from tracker.core.forms import add_service_errors
from tracker.core.permissions import authorize, can_manage_templates
from tracker.projects.models import ProjectTemplate
from tracker.projects.services import template_duplicate, template_save
from tracker.web.forms import TemplateForm, TemplateNodeForm, TemplateNodeFormSet

MANAGERS_ONLY = _("Only staff can change templates.")


@login_required
def template_list(request: HttpRequest) -> HttpResponse:
    authorize(request.user, can_manage_templates, message=MANAGERS_ONLY)
    templates = ProjectTemplate.objects.annotate(node_count=Count("nodes")).order_by("name")
    return render(request, "web/templates/list.html", {"templates": templates})


@login_required
def template_edit(request: HttpRequest, template_id: int | None = None) -> HttpResponse:
    authorize(request.user, can_manage_templates, message=MANAGERS_ONLY)
    template = get_object_or_404(ProjectTemplate, pk=template_id) if template_id else None
    departments = list(Department.objects.order_by("name"))
    if request.method == "POST":
        form = TemplateForm(request.POST)
        nodes = TemplateNodeFormSet(
            request.POST, prefix="nodes", form_kwargs={"departments": departments}
        )
        if form.is_valid() and nodes.is_valid():
            try:
                saved = template_save(
                    actor=request.user,
                    template=template,
                    nodes=[
                        node.node_data()
                        for node in nodes.forms
                        if node.has_changed() and not node.cleaned_data.get("DELETE")
                    ],
                    **form.cleaned_data,
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Template “%(name)s” saved.") % {"name": saved.name})
                return redirect("web:template_edit", template_id=saved.pk)
        status = 400
    else:
        form = TemplateForm(initial=TemplateForm.initial_for(template) if template else None)
        nodes = TemplateNodeFormSet(
            prefix="nodes",
            form_kwargs={"departments": departments},
            initial=[TemplateNodeForm.initial_for(n) for n in template.nodes.all()]
            if template
            else None,
        )
        status = 200
    return render(
        request,
        "web/templates/edit.html",
        {"form": form, "nodes": nodes, "template": template},
        status=status,
    )


@require_POST
@login_required
def template_duplicate_view(request: HttpRequest, template_id: int) -> HttpResponse:
    template = get_object_or_404(ProjectTemplate, pk=template_id)
    copy = template_duplicate(template=template, actor=request.user)
    messages.success(
        request,
        _("“%(name)s” is a copy: rename it and change what differs.") % {"name": copy.name},
    )
    return redirect("web:template_edit", template_id=copy.pk)
