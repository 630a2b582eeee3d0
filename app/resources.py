"""Where the read-only files that ship with the code are: the one place that knows.

Owns locating what the service reads at run time besides its modules: the folders
`migrations/`, `templates/` and `static/` (the web pages' CSS) at the project's root, and data folders of installed packages
(Swagger UI's `static/`). It works the same from a source checkout and from the one-file
executable (`make dist`, `packaging/rewards.spec`), which unpacks them under `sys._MEIPASS`.
The base folder is resolved once, here; nothing else walks `__file__` to find a resource.

`packaging/rewards.spec` bundles exactly `DATA_DIRS` and `PACKAGE_DATA`, from the paths
this module gives in the build environment, to the places it looks for them in a bundle.
Nothing here is ever written: the database, its backups and the generated admin key live in
DATABASE_PATH's folder (`Config.data_dir`), never in the bundle's temporary folder.
"""
from __future__ import annotations

import importlib.util
import os
import sys

# True inside the PyInstaller executable, whose bootloader sets both attributes.
FROZEN = bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")

# The folder that holds DATA_DIRS: the bundle's unpack folder, or the checkout's root (the
# parent of this package).
BASE_DIR = sys._MEIPASS if FROZEN else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Folders under BASE_DIR that the service reads at run time.
DATA_DIRS = ("migrations", "templates", "static")
# Data folders of installed packages that the service reads: package → its folder. In a
# bundle each sits at BASE_DIR/<package>/<folder>, without the package's code.
PACKAGE_DATA = {"swagger_ui": "static"}


def resource_path(*parts: str) -> str:
    """A file or folder under BASE_DIR, e.g. `resource_path("migrations")`."""
    return os.path.join(BASE_DIR, *parts)


def package_data_dir(package: str) -> str:
    """The data folder of `package` named in PACKAGE_DATA.

    Outside a bundle the package is found without importing it (`import swagger_ui` would
    load its framework adapters, Jinja2 and PyYAML; only its static files are used)."""
    folder = PACKAGE_DATA[package]
    if FROZEN:
        return os.path.join(BASE_DIR, package, folder)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package} is not installed (requirements.txt)")
    return os.path.join(spec.submodule_search_locations[0], folder)


MIGRATIONS_DIR = resource_path("migrations")
TEMPLATES_DIR = resource_path("templates")
STATIC_DIR = resource_path("static")
