from html.parser import HTMLParser

import pytest

from registry.cards.markdown import render_markdown
from tests.support.builders import OrganizationFactory, add_member, commit_files, make_repo

pytestmark = pytest.mark.django_db

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "[data](data:text/html;base64,PHNjcmlwdD4=)",
    '<svg onload="alert(1)"></svg>',
    "<iframe src='https://evil.example'></iframe>",
    '<style>body{display:none}</style><p style="x">y</p>',
]


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


@pytest.mark.parametrize("vector", XSS)
def test_markdown_renders_inert(vector):
    parser = _Elements()
    parser.feed(render_markdown(vector))
    for tag, attrs in parser.elements:
        assert tag not in ("script", "iframe", "style", "svg", "object", "embed")
        assert not any(name.startswith("on") or name == "style" for name in attrs)
        for name in ("href", "src"):
            assert not attrs.get(name, "").lower().startswith(("javascript:", "data:", "vbscript:"))


def test_repo_pages_render_card_files_and_history(client, alice):
    repo = make_repo(alice, "tiny", {"README.md": b"---\nlicense: mit\n---\n# Hello\n", "sub/a.txt": b"text"})
    commit_files(repo, {"sub/b.txt": b"more"}, author=alice, summary="second")
    page = client.get("/alice/tiny")
    assert page.status_code == 200 and b"<h1>Hello</h1>" in page.content and b"license: mit" not in page.content
    tree = client.get("/alice/tiny/tree/main/sub")
    assert b"a.txt" in tree.content and b"b.txt" in tree.content
    blob = client.get("/alice/tiny/blob/main/sub/a.txt")
    assert b"text" in blob.content and b"/alice/tiny/resolve/main/sub/a.txt" in blob.content
    history = client.get("/alice/tiny/commits/main")
    assert history.content.index(b"second") < history.content.index(b"initial commit")
    assert client.get("/alice").status_code == 200 and b"alice/tiny" in client.get("/alice").content
    # Names are read whatever their case, as repo ids are: the page lives at the canonical case.
    moved = client.get("/ALICE")
    assert (moved.status_code, moved["Location"]) == (302, "/alice")


def test_private_repo_pages_are_404_for_strangers_and_visible_to_org_members(client, alice, bob):
    org = OrganizationFactory(name="acme")
    add_member(org, alice, "admin")
    make_repo(org, "secret", {"README.md": b"# classified"}, private=True, author=alice)
    for url in (
        "/acme/secret",
        "/acme/secret/tree/main",
        "/acme/secret/commits/main",
        "/acme/secret/blob/main/README.md",
    ):
        assert client.get(url).status_code == 404
        client.force_login(bob)
        assert client.get(url).status_code == 404
        client.force_login(alice)
        assert client.get(url).status_code == 200
        client.logout()
    assert b"acme/secret" not in client.get("/acme").content
    client.force_login(alice)
    assert b"acme/secret" in client.get("/acme").content


def test_org_admin_manages_members(client, alice, bob):
    client.force_login(alice)
    assert client.post("/organizations/new", {"name": "acme"}).status_code == 302
    client.post("/organizations/acme/members", {"username": "bob", "role": "write"})
    assert bob.memberships.get().role == "write"
    client.force_login(bob)
    client.post("/organizations/acme/members", {"username": "bob", "role": "admin"})
    assert bob.memberships.get().role == "write"  # only admins change members
