from django.apps import AppConfig


class GitHttpConfig(AppConfig):
    name = "githttp"
    verbose_name = "git over smart HTTP"
