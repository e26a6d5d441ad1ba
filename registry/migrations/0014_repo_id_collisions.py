# Repo ids become case-insensitive (0015 makes (repo_type, lower(namespace), lower(name)) unique).
# Ids that differ only in case, left by earlier versions, are resolved first: the repo created
# first keeps its id; each later one is renamed to `<name>-<n>` (the first n from 2 that is free)
# and its old id is recorded as a RepoRedirect to it. The old id, read case-insensitively, now
# reaches the first repo; the redirect answers it if that repo is ever moved or deleted for good.
# Redirects whose ids differ only in case keep the newest.

from collections import defaultdict

from django.db import migrations

MAX_NAME = 96


def _free_name(name: str, repo_type: str, folded_namespace: str, taken: set) -> str:
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = name[: MAX_NAME - len(suffix)].rstrip("-._") + suffix
        if (repo_type, folded_namespace, candidate.lower()) not in taken:
            return candidate
        n += 1


def resolve_collisions(apps, schema_editor):
    Repo = apps.get_model("registry", "Repo")
    RepoRedirect = apps.get_model("registry", "RepoRedirect")
    groups = defaultdict(list)
    rows = Repo.objects.order_by("created_at", "pk").values_list("pk", "repo_type", "namespace", "name")
    for pk, repo_type, namespace, name in rows:
        groups[(repo_type, namespace.lower(), name.lower())].append((pk, namespace, name))
    taken = set(groups)
    for (repo_type, folded_namespace, _), members in groups.items():
        for pk, namespace, name in members[1:]:
            new_name = _free_name(name, repo_type, folded_namespace, taken)
            taken.add((repo_type, folded_namespace, new_name.lower()))
            Repo.objects.filter(pk=pk).update(name=new_name)
            same_id = {"repo_type": repo_type, "namespace__iexact": namespace, "name__iexact": name}
            RepoRedirect.objects.filter(**same_id).delete()
            RepoRedirect.objects.create(repo_type=repo_type, namespace=namespace, name=name, repo_id=pk)
    seen = set()
    for redirect in RepoRedirect.objects.order_by("-created_at", "-pk"):
        key = (redirect.repo_type, redirect.namespace.lower(), redirect.name.lower())
        if key in seen:
            redirect.delete()
        seen.add(key)


class Migration(migrations.Migration):
    dependencies = [("registry", "0013_repo_deleted_at")]

    operations = [migrations.RunPython(resolve_collisions, migrations.RunPython.noop)]
