from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "hotline.accounts"
    label = "accounts"

    def ready(self) -> None:
        from hotline.accounts import signals  # noqa: F401 - connects the login audit
