from django import forms

from accounts.models import Role, TokenRole


class SignupForm(forms.Form):
    username = forms.CharField(max_length=96)
    email = forms.EmailField()
    fullname = forms.CharField(max_length=200, required=False, label="Full name")
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    role = forms.ChoiceField(choices=TokenRole.choices, initial=TokenRole.READ)


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=96)
    fullname = forms.CharField(max_length=200, required=False, label="Full name")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=96)
    role = forms.ChoiceField(choices=[*Role.choices, ("remove", "Remove")])
