"""What tally publishes from the marts and the issued store: invoice documents
(`documents`), customer spend notifications (`notifications`) and the HTML reports (`reports`).
Pages are rendered from the Jinja2 templates under `publish/templates/`.
"""
