"""Start the test provider: `python -m tests.support.oidc_provider --dir D --port P ...`.

Creates its signing key, database and the OAuth client for Gatehouse, then serves on 127.0.0.1
until killed. Prints `ready` once it is serving.
"""

import argparse
import os
import secrets
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", required=True)
    parser.add_argument("--control-secret", required=True)
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    key_path = args.dir / "signing-key.pem"
    if not key_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key_path.write_bytes(pem)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.support.oidc_provider.settings",
            "OIDC_PROVIDER_DIR": str(args.dir),
            "OIDC_PROVIDER_PORT": str(args.port),
            "OIDC_PROVIDER_CONTROL_SECRET": args.control_secret,
            "OIDC_PROVIDER_SECRET_KEY": secrets.token_urlsafe(32),
        }
    )
    import django

    django.setup()
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    call_command("migrate", run_syncdb=True, verbosity=0)
    get_application_model().objects.update_or_create(
        client_id=args.client_id,
        defaults={
            "name": "Gatehouse",
            "client_secret": args.client_secret,
            "client_type": "confidential",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": args.redirect_uri,
            "algorithm": "RS256",
            "skip_authorization": True,
        },
    )
    print("ready", flush=True)
    sys.stdout.flush()
    call_command(
        "runserver", f"127.0.0.1:{args.port}", use_reloader=False, use_threading=True, skip_checks=True, verbosity=0
    )


if __name__ == "__main__":
    main()
