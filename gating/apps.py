from django.apps import AppConfig


class GatingConfig(AppConfig):
    name = "gating"

    def ready(self) -> None:
        from gating import access_form
        from registry import hooks

        hooks.metadata_checks.append(access_form.metadata_check)
        hooks.settings_changed.append(_audit_settings_change)
        if _audit_history_change not in hooks.history_changed:
            hooks.history_changed.append(_audit_history_change)
        if _refresh_withheld_content not in hooks.commit_listeners:
            hooks.commit_listeners.append(_refresh_withheld_content)
        if _refresh_withheld_content_of not in hooks.branches_changed:
            hooks.branches_changed.append(_refresh_withheld_content_of)


def _refresh_withheld_content(*, repo, ref_name: str, commit) -> None:
    """A commit to a branch may put new files under withheld patterns: their content is withheld
    from this transaction on. Pull request refs are contributors' and withhold nothing."""
    from gating import release

    if ref_name.startswith("refs/heads/"):
        release.withheld_content_refresh(repo=repo)


def _refresh_withheld_content_of(repo) -> None:
    """A branch created at an older commit brings its files under the patterns to a head."""
    from gating import release

    release.withheld_content_refresh(repo=repo)


def _audit_settings_change(repo, actor, changes: dict) -> None:
    from gating.audit import audit_record

    audit_record(
        repo=repo,
        action="repo.update_settings",
        actor=actor,
        data={key: {"from": old, "to": new} for key, (old, new) in changes.items()},
    )


def _audit_history_change(repo, actor, action: str, data: dict) -> None:
    from gating.audit import audit_record

    audit_record(repo=repo, action=action, actor=actor, data=data)
