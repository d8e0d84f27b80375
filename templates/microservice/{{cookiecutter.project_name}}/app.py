"""Entry point: ``python app.py``. Settings from ``TAMARCO_YML_FILE`` (default: settings.yml next
to this file), or from etcd when ``TAMARCO_ETCD_HOST`` is set."""

import os
from pathlib import Path

from {{ cookiecutter.project_slug }}.microservice import main

if __name__ == "__main__":
    if "TAMARCO_ETCD_HOST" not in os.environ:
        os.environ.setdefault("TAMARCO_YML_FILE", str(Path(__file__).with_name("settings.yml")))
    main()
