"""The takedown directory (admin): per-contact sending policies and escalation contacts, changed audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict

from hotline.audit.services import Actor, record
from hotline.takedown import actions
from hotline.takedown.models import ContactPolicy, EscalationContact

# (created, changed, deleted) per directory model
_ACTIONS: dict[type[Any], tuple[str, str, str]] = {
    ContactPolicy: (actions.CONTACT_POLICY_CREATED, actions.CONTACT_POLICY_CHANGED, actions.CONTACT_POLICY_DELETED),
    EscalationContact: (actions.ESCALATION_CONTACT_CREATED, actions.ESCALATION_CONTACT_CHANGED,
                        actions.ESCALATION_CONTACT_DELETED),
}


@transaction.atomic
def save_directory_row(row: ContactPolicy | EscalationContact | Any, *, actor: Actor) -> None:
    """Create or change a sending policy or an escalation contact, audited."""
    created = row.pk is None
    row.full_clean()
    row.save()
    on_create, on_change, _ = _ACTIONS[type(row)]
    record(actor, on_create if created else on_change, row, after=json_safe(model_to_dict(row)))


@transaction.atomic
def delete_directory_row(row: ContactPolicy | EscalationContact | Any, *, actor: Actor) -> None:
    record(actor, _ACTIONS[type(row)][2], row, before=json_safe(model_to_dict(row)))
    row.delete()


def json_safe(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value if isinstance(value, int | str | list | type(None)) else str(value)
            for key, value in values.items()}
