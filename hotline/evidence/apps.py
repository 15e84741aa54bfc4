from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "hotline.evidence"
    label = "evidence"
