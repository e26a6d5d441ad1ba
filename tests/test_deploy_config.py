"""The deployment config README.md tells operators to use really does what it says."""

from pathlib import Path

from gunicorn.app.base import Application

CONFIG = Path(__file__).resolve().parent.parent / "config" / "gunicorn.conf.py"


class _ConfigOnly(Application):
    """Loads config/gunicorn.conf.py the way `gunicorn -c` does, without parsing argv or serving."""

    def load_config(self):
        self.load_config_from_file(str(CONFIG))

    def load(self):
        raise AssertionError("not serving")


def test_gunicorn_config_sends_files_with_sendfile(monkeypatch):
    # gunicorn reads any value of the `sendfile` setting (even True) as --no-sendfile.
    monkeypatch.delenv("SENDFILE", raising=False)
    cfg = _ConfigOnly().cfg
    assert cfg.sendfile is True
    assert cfg.worker_class_str == "core.gunicorn_worker.Worker"
