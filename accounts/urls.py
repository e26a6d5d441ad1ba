from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views
from accounts.sso import views as sso_views

app_name = "accounts"

urlpatterns = [
    path("signup", views.SignupView.as_view(), name="signup"),
    path("login", views.LoginView.as_view(), name="login"),
    path("sso/login", sso_views.SsoLoginView.as_view(), name="sso_login"),
    path("sso/callback", sso_views.SsoCallbackView.as_view(), name="sso_callback"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/tokens", views.TokenSettingsView.as_view(), name="tokens"),
    path("organizations/new", views.OrganizationCreateView.as_view(), name="org_new"),
    path("organizations/<str:name>/members", views.OrganizationMembersView.as_view(), name="org_members"),
    path("organizations/<str:name>/settings", views.OrganizationSettingsView.as_view(), name="org_settings"),
    path("organizations/invitations/<str:token>", views.InvitationView.as_view(), name="invitation"),
]
