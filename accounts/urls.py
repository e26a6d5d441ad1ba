from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import account_views, views
from accounts.sso import views as sso_views

app_name = "accounts"

urlpatterns = [
    path("signup", views.SignupView.as_view(), name="signup"),
    path("login", views.LoginView.as_view(), name="login"),
    path("sso/login", sso_views.SsoLoginView.as_view(), name="sso_login"),
    path("sso/callback", sso_views.SsoCallbackView.as_view(), name="sso_callback"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("settings/tokens", views.TokenSettingsView.as_view(), name="tokens"),
    path("settings/account", account_views.AccountSettingsView.as_view(), name="account_settings"),
    path("verify-email/<str:token>", account_views.VerifyEmailView.as_view(), name="verify_email"),
    path("password-reset", account_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent", account_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>",
        account_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done", account_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("organizations/new", views.OrganizationCreateView.as_view(), name="org_new"),
    path("organizations/<str:name>/members", views.OrganizationMembersView.as_view(), name="org_members"),
    path("organizations/<str:name>/settings", views.OrganizationSettingsView.as_view(), name="org_settings"),
    path("organizations/invitations/<str:token>", views.InvitationView.as_view(), name="invitation"),
]
