from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "hotline.evidence"
    label = "evidence"

    def ready(self) -> None:
        from hotline.evidence import checks  # noqa: F401 - registers the system checks
