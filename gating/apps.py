from django.apps import AppConfig


class GatingConfig(AppConfig):
    name = "gating"

    def ready(self) -> None:
        from gating import forms
        from registry import hooks

        hooks.metadata_checks.append(forms.metadata_check)
        hooks.settings_changed.append(_audit_settings_change)


def _audit_settings_change(repo, actor, changes: dict) -> None:
    from gating.audit import audit_record

    audit_record(repo=repo, action="repo.update_settings", actor=actor,
                 data={key: {"from": old, "to": new} for key, (old, new) in changes.items()})  # fmt: skip
