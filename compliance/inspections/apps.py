from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    """Inspections, violations, grades and risk ranking: a Django app of its own inside compliance."""

    name = "compliance.inspections"
    label = "inspections"
    verbose_name = _("Inspections")
