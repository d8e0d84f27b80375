"""{{ cookiecutter.project_short_description }}"""

__version__ = "{{ cookiecutter.version }}"
