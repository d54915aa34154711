"""The jinja2 templates of generated modules (a package so that they install inside sharedgen)."""
