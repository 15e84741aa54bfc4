from django.apps import AppConfig


class HashesConfig(AppConfig):
    name = "hotline.hashes"
    label = "hashes"
