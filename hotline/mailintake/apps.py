from django.apps import AppConfig


class MailintakeConfig(AppConfig):
    name = "hotline.mailintake"
    label = "mailintake"
