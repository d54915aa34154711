"""sharedgen: typed shared-memory structs for multiprocessing, generated from schema files.

The pipeline, one module per stage:

    load  -> files to plain data with source positions
    spec  -> pydantic models: the schema language and all its rules
    model -> the view-model: every name, type and method set, decided once
    render -> jinja2 templates, ast check, black
    write -> plan outputs, diff, atomic replace
"""

__version__ = "0.1.0"
