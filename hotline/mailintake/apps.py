from django.apps import AppConfig


class MailintakeConfig(AppConfig):
    name = "hotline.mailintake"
    label = "mailintake"

    def ready(self) -> None:
        from hotline.mailintake import checks  # noqa: F401 - registers the system checks
