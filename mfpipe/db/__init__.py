"""Databases: tables from Arrow schemas, SQL types per dialect, identifiers, bulk loaders.

Nothing here knows COBOL: it receives Arrow schemas and batches. Drivers are imported inside
the dialect modules, so importing :mod:`mfpipe.db` needs none of them.
"""

from mfpipe.db.identifiers import check_identifier
from mfpipe.db.schema import DIALECTS, ddl, final_table, staging_table
from mfpipe.db.types import sql_type

__all__ = ["DIALECTS", "check_identifier", "ddl", "final_table", "sql_type",
           "staging_table"]
