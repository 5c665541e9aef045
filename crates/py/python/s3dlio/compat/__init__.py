"""Drop-in replacements for other libraries' classes, over s3dlio: import
``s3dlio.compat.s3torchconnector`` instead of ``s3torchconnector``."""
