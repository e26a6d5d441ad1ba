from oauth2_provider.oauth2_validators import OAuth2Validator


class ClaimsValidator(OAuth2Validator):
    """The standard claims from the user, plus `groups` (under a scope of its own, as Keycloak
    and Authentik do); `sub` is the test-chosen subject, not the row id."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "groups"}

    def get_additional_claims(self, request):
        user = request.user
        claims = user.claims
        return {
            "sub": claims.subject,
            "preferred_username": user.username,
            "name": user.get_full_name(),
            "email": user.email,
            "email_verified": claims.email_verified,
            "groups": list(claims.groups),
        }
