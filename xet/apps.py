from django.apps import AppConfig


class XetConfig(AppConfig):
    name = "xet"
    verbose_name = "Xet storage protocol"

    def ready(self) -> None:
        from registry import hooks
        from xet import gc, reconstruction

        hooks.xet_content = reconstruction.read_file_range
        hooks.garbage_collectors.append(gc.collect_xet_garbage)
