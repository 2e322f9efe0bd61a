"""Entry point for ``streamlit run app/streamlit_app.py`` and Streamlit Community Cloud.

The page itself is in the package, ``medgan_utils/appkit/streamlit_app.py``, so that an
installed package serves it too (``medgan app``); this file runs it as Streamlit's script.
"""

import runpy

from medgan_utils.appkit.page import APP

runpy.run_path(str(APP), run_name="__main__")
