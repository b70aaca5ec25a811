"""Student and instructor reports: self-contained HTML (figures embedded) and Markdown.

Data flows one way: gradebook/dg_results + mastery + item statistics -> :class:`ReportData`
(``data.py``) -> figures (``figures.py``) -> Jinja2 templates (``render.py``) -> files (``write.py``).
"""
