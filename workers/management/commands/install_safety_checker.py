"""manage.py install_safety_checker --endpoint URL --repo ID --revision SHA [--dest DIR]

Turns previews on: installs the operator's image safety checker (workers.safety.install says
what is guaranteed). Without --dest it goes to GATEHOUSE_SAFETY_CHECKER_PATH when that is set,
else to var/safety-checker, which the settings pick up at the next start. A token for a private
or gated repo is read from HF_TOKEN (never from the command line, which other users can see)."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from workers.safety.install import DEFAULT_MAX_BYTES, InstallRefused, install_checker

PUBLIC_CHECKER = "CompVis/stable-diffusion-safety-checker"


class Command(BaseCommand):
    help = "Install the image safety checker that previews need, from a Hub-compatible endpoint at a pinned commit."

    def add_arguments(self, parser):
        parser.add_argument("--endpoint", default="https://huggingface.co", help="Hub-compatible endpoint URL.")
        parser.add_argument(
            "--repo", default=PUBLIC_CHECKER, help=f"Repo id of the checker (default {PUBLIC_CHECKER})."
        )
        parser.add_argument("--revision", required=True, help="The full commit id to install (40 hex digits).")
        parser.add_argument("--dest", default="", help="Folder to install into (default: see above).")
        parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="Refuse larger checkers.")

    def handle(self, *args, **options):
        dest = Path(
            options["dest"] or settings.GATEHOUSE_SAFETY_CHECKER_PATH or settings.GATEHOUSE_SAFETY_CHECKER_INSTALL_DIR
        )
        try:
            record = install_checker(
                endpoint=options["endpoint"],
                repo_id=options["repo"],
                revision=options["revision"],
                dest=dest,
                token=os.environ.get("HF_TOKEN") or None,
                max_bytes=options["max_bytes"],
            )
        except InstallRefused as exc:
            raise CommandError(f"Not installed: {exc}") from exc
        size = sum(item.size for item in record.files)
        self.stdout.write(
            f"Installed {record.repo}@{record.revision} from {record.endpoint} into {dest} "
            f"({len(record.files)} files, {size} bytes; record in {dest / 'installed.json'})."
        )
        if Path(settings.GATEHOUSE_SAFETY_CHECKER_PATH or "").absolute() != dest.absolute():
            if dest.absolute() == Path(settings.GATEHOUSE_SAFETY_CHECKER_INSTALL_DIR).absolute():
                self.stdout.write(
                    "Previews turn on at the next start of `make run` (or of the web and worker processes)."
                )
            else:
                self.stdout.write(f"Set GATEHOUSE_SAFETY_CHECKER_PATH={dest} and restart to turn previews on.")
        else:
            self.stdout.write("Restart the worker processes to load the new checker.")
