"""core.prepared: a compiled-once query must return exactly what the ORM returns, or not be used."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.prepared import PreparedQuery
from registry.models import Ref, Repo
from tests.support.builders import OrganizationFactory, add_member, make_repo

pytestmark = pytest.mark.django_db

BY_ID = PreparedQuery(
    lambda repo_type, namespace, name: Repo.objects.filter(repo_type=repo_type, namespace=namespace, name=name)[:1]
)
REFS = PreparedQuery(lambda repo_id, names: Ref.objects.filter(repo_id=repo_id, name__in=names))


def _fields(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in type(obj)._meta.concrete_fields}


def test_prepared_rows_equal_orm_rows_with_converted_values(alice):
    repo = make_repo(alice, "card", {"README.md": b"---\nlicense: mit\ntags: [a, b]\n---\n# hi\n"})
    orm = Repo.objects.get(pk=repo.pk)
    [prepared] = BY_ID(repo_type="model", namespace="alice", name="card")
    assert _fields(prepared) == _fields(orm)  # datetimes aware, JSON decoded, booleans as bool
    assert prepared.card_data == orm.card_data and prepared.card_data.get("license") == "mit"
    assert prepared.created_at.tzinfo is not None
    assert prepared._state.adding is False


def test_new_values_are_bound_on_every_call(alice):
    make_repo(alice, "one")
    make_repo(alice, "two")
    assert [r.name for r in BY_ID(repo_type="model", namespace="alice", name="one")] == ["one"]
    assert [r.name for r in BY_ID(repo_type="model", namespace="alice", name="two")] == ["two"]
    assert BY_ID(repo_type="dataset", namespace="alice", name="one") == []
    assert BY_ID(repo_type="model", namespace="alice", name="o_e") == []  # no wildcard semantics


def test_lists_of_each_length_compile_separately(alice):
    repo = make_repo(alice, "refs")
    for names in (["refs/heads/main"], ["refs/tags/main", "refs/heads/main"], ["x", "y", "refs/heads/main"]):
        assert [ref.name for ref in REFS(repo_id=repo.pk, names=names)] == ["refs/heads/main"]
    assert REFS(repo_id=repo.pk, names=["refs/heads/other"]) == []
    assert REFS(repo_id=repo.pk + 1000, names=["refs/heads/main"]) == []


def test_one_argument_feeding_two_lookups(alice, bob):
    org = OrganizationFactory(name="team")
    add_member(org, bob, "read")
    make_repo(alice, "mine", private=True)
    make_repo(org, "theirs", private=True, author=bob)
    from django.db.models import Q

    from accounts.models import Membership

    visible = PreparedQuery(
        lambda user_id: Repo.objects.filter(
            Q(private=False)
            | Q(owner_user_id=user_id)
            | Q(owner_org_id__in=Membership.objects.filter(user_id=user_id).values("org_id"))
        ).order_by("name")
    )
    assert [r.name for r in visible(user_id=alice.pk)] == ["mine"]
    assert [r.name for r in visible(user_id=bob.pk)] == ["theirs"]


def test_a_prepared_call_is_one_ordinary_query(alice):
    make_repo(alice, "counted")
    BY_ID(repo_type="model", namespace="alice", name="counted")
    with CaptureQueriesContext(connection) as queries:
        BY_ID(repo_type="model", namespace="alice", name="counted")
    assert len(queries) == 1 and "registry_repo" in queries[0]["sql"]


@pytest.mark.parametrize(
    "build",
    [
        # LIKE escaping changes the value in Python: preparing it would drop the escaping.
        lambda name: Repo.objects.filter(name__contains=name),
        # Not a plain model QuerySet.
        lambda name: Repo.objects.filter(name=name).select_related("owner_user"),
        lambda name: Repo.objects.filter(name=name).values("name"),
    ],
)
def test_queries_that_cannot_be_prepared_run_through_the_orm(alice, build):
    make_repo(alice, "a_b")
    make_repo(alice, "axb")
    query = PreparedQuery(build)
    assert query(name="a_b") == list(build("a_b"))
    assert len(query(name="a_b")) == 1
    assert list(query._compiled.values()) == [None]


def test_lookups_transformed_by_the_backend_keep_their_meaning(alice):
    # iexact: SQLite escapes LIKE wildcards in Python (not prepared), PostgreSQL compares
    # UPPER(...) in SQL (prepared); either way '_' must not act as a wildcard.
    make_repo(alice, "a_b")
    make_repo(alice, "axb")
    query = PreparedQuery(lambda name: Repo.objects.filter(name__iexact=name))
    for _ in range(2):
        assert [r.name for r in query(name="A_B")] == ["a_b"]
        assert query(name="A%") == []


def test_unsupported_argument_types_fall_back(alice):
    make_repo(alice, "flag", private=True)
    query = PreparedQuery(lambda private: Repo.objects.filter(private=private))
    assert [r.name for r in query(private=True)] == ["flag"]
    assert REFS(repo_id=1, names=[]) == []  # an empty IN list compiles to nothing at all


def test_annotations_are_prepared_and_converted(alice):
    from django.db.models import Count, Exists, OuterRef

    from gating.models import ReleasePlan

    plain = make_repo(alice, "plain")
    planned = make_repo(alice, "planned")
    ReleasePlan.objects.create(repo=planned)
    query = PreparedQuery(
        lambda namespace, name: Repo.objects.filter(namespace=namespace, name=name).annotate(
            has_plan=Exists(ReleasePlan.objects.filter(repo=OuterRef("pk"))), n_refs=Count("refs")
        )[:1]
    )
    for repo, expected in ((plain, False), (planned, True)):
        [found] = query(namespace="alice", name=repo.name)
        assert found.has_plan is expected and found.n_refs == 1
        assert _fields(found) == _fields(Repo.objects.get(pk=repo.pk))
    assert list(query._compiled.values()) != [None]
    with CaptureQueriesContext(connection) as queries:
        query(namespace="alice", name="plain")
    assert len(queries) == 1
