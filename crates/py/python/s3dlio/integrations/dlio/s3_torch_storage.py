"""A drop-in for DLIO's ``storage/s3_torch_storage.py`` (``install_dropin_replacement``
copies this file over it): the class name DLIO imports, served by s3dlio."""

from s3dlio.integrations.dlio.storage import S3PyTorchConnectorStorage

__all__ = ["S3PyTorchConnectorStorage"]
