"""DLIO's ``storage_type: s3dlio``. This file is what ``install_s3dlio_storage`` copies into
``dlio_benchmark/storage/``; the class lives in ``s3dlio.integrations.dlio.storage``."""

from s3dlio.integrations.dlio.storage import S3dlioStorage

__all__ = ["S3dlioStorage"]
