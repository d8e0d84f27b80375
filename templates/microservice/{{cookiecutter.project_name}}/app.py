"""Entry point: ``python app.py`` (settings from TAMARCO_YML_FILE, default settings.yml)."""

import os
from pathlib import Path

from {{ cookiecutter.project_slug }}.microservice import main

if __name__ == "__main__":
    os.environ.setdefault("TAMARCO_YML_FILE", str(Path(__file__).with_name("settings.yml")))
    main()
