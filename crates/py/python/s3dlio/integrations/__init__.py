"""s3dlio inside other tools' own plug-in points.

- ``s3dlio.integrations.dlio``: a storage type for the DLIO benchmark (Argonne's
  ``dlio_benchmark``, which MLPerf Storage runs).
"""
