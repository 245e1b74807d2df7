"""The web UI: a Streamlit app (`app.py`) over the Python SDK, its pure view logic (`model.py`) and
`bitrag ui` (`launch.py`)."""
