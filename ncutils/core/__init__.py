"""The foundation every other layer may use: paths, input checks, the task contract, hashing.

Nothing here knows Neural Collapse, the papers, the runner or the book.
"""

from ncutils.core.device import default_device
from ncutils.core.jsonable import plain
from ncutils.core.paths import DATA_DIR, PACKAGE_DIR, REPO_DIR
from ncutils.core.task import Diverged, Task, resolve_task, task
from ncutils.core.versioning import code_version, config_hash, import_closure, task_code_version

__all__ = ["DATA_DIR", "PACKAGE_DIR", "REPO_DIR", "Diverged", "Task", "code_version", "config_hash",
           "default_device", "import_closure", "plain", "resolve_task", "task", "task_code_version"]
