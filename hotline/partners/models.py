"""Partner directory: hotlines per country and police contacts."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class PartnerHotlineQuerySet(models.QuerySet["PartnerHotline"]):
    def serving(self, country: str) -> PartnerHotline | None:
        """The active hotline that serves a country (JSON containment works on both databases this way)."""
        for hotline in self.filter(active=True).order_by("pk"):
            if country.upper() in hotline.countries:
                return hotline
        return None


class PartnerHotline(models.Model):
    """A partner hotline: the countries it serves and how to reach its exchange endpoint."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    countries = models.JSONField(_("countries served"), default=list)
    endpoint = models.URLField(_("exchange endpoint"), blank=True)
    public_key = models.CharField(_("public key (Ed25519, base64)"), max_length=100, blank=True)
    languages = models.JSONField(_("languages"), default=list)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    objects = PartnerHotlineQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PoliceContact(models.Model):
    """A police unit the hotline refers to: the national unit or the international channel."""

    class Kind(models.TextChoices):
        NATIONAL = "national", _("National unit")
        INTERNATIONAL = "international", _("International channel")

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        HTTP = "http", _("HTTP endpoint")

    name = models.CharField(_("name"), max_length=200)
    country = models.CharField(_("country"), max_length=2)
    kind = models.CharField(_("kind"), max_length=15, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    email = models.EmailField(_("e-mail"), blank=True)
    endpoint = models.URLField(_("endpoint"), blank=True)
    languages = models.JSONField(_("languages"), default=list)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["country", "kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.country}, {self.get_kind_display()})"
