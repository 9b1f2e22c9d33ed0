"""MoveScope core: video -> people -> tracks -> the patient -> clinical measures.

Importable without Streamlit; used by the pages, the CLI (``python -m core``), tests and notebooks.
"""

__version__ = "0.1.0"
