from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "community"

    def ready(self) -> None:
        # The registry cannot import community; it reaches pull requests through its hooks.
        from accounts import erasure
        from community import hooks as community_hooks
        from community import settings_section
        from community.erasure import community_erase
        from registry import hooks

        hooks.pull_requests = community_hooks.PullRequests()
        if community_hooks.record_pull_request_commit not in hooks.commit_listeners:
            hooks.commit_listeners.append(community_hooks.record_pull_request_commit)
        if settings_section.SECTION not in hooks.repo_settings_sections:
            hooks.repo_settings_sections.append(settings_section.SECTION)
        if community_erase not in erasure.erasers:
            erasure.erasers.append(community_erase)
