from django import forms

from accounts import permissions
from accounts.models import Role, TokenRole


class SignupForm(forms.Form):
    username = forms.CharField(max_length=96)
    email = forms.EmailField()
    fullname = forms.CharField(max_length=200, required=False, label="Full name")
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)


def _choices(names) -> list[tuple[str, str]]:
    return [(name, name) for name in names]


class TokenForm(forms.Form):
    """A token: classic read or write, or fine-grained with permissions per repo (listed by id,
    one per line; `datasets/` in front for a dataset), per organisation of the user's, on the
    user's own namespace, and globally. Expiry: the end of the chosen day (UTC), or never."""

    name = forms.CharField(max_length=100)
    role = forms.ChoiceField(choices=TokenRole.choices, initial=TokenRole.READ)
    expires_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    repos = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=20_000)
    repo_permissions = forms.MultipleChoiceField(
        required=False, choices=_choices(permissions.PERMISSIONS_BY_ENTITY[permissions.REPO])
    )
    own_permissions = forms.MultipleChoiceField(
        required=False, choices=_choices(permissions.PERMISSIONS_BY_ENTITY[permissions.USER])
    )
    orgs = forms.MultipleChoiceField(required=False, choices=[])
    org_permissions = forms.MultipleChoiceField(
        required=False, choices=_choices(permissions.PERMISSIONS_BY_ENTITY[permissions.ORG])
    )
    global_permissions = forms.MultipleChoiceField(required=False, choices=_choices(permissions.GLOBAL_PERMISSIONS))
    can_read_gated_repos = forms.BooleanField(required=False)

    def __init__(self, *args, org_names: list[str] = (), **kwargs):  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["orgs"].choices = _choices(org_names)  # type: ignore[attr-defined]


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=96)
    fullname = forms.CharField(max_length=200, required=False, label="Full name")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=96)
    role = forms.ChoiceField(choices=[*Role.choices, ("remove", "Remove")])
