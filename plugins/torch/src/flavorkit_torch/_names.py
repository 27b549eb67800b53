"""Names fixed by the on-disk format: the flavor, its formats and its files."""

from __future__ import annotations

FLAVOR_NAME = "pytorch"
FORMATS = ("export", "state_dict", "pickle")
DATA_DIR = "data"
CODE_DIR = "code"
EXPORT_FILE = "model.pt2"
STATE_DICT_FILE = "model.safetensors"
PICKLE_FILE = "model.pth"
PICKLE_INFO_FILE = "pickle_module_info.txt"
FILES = {"export": EXPORT_FILE, "state_dict": STATE_DICT_FILE, "pickle": PICKLE_FILE}
DEFAULT_BATCH_SIZE = 1024
LOADER_MODULE = "flavorkit_torch"
