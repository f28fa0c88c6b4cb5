"""Prints each function's Lambda zip size and its bootstrap's size.

Usage: python bench/zip_sizes.py TARGET_DIR FUNCTION...
"""

import os
import sys
import zipfile

target, functions = sys.argv[1], sys.argv[2:]
for f in functions:
    path = os.path.join(target, "lambda", f, "bootstrap.zip")
    size = zipfile.ZipFile(path).getinfo("bootstrap").file_size
    print(f"{f:<24} zip {os.path.getsize(path):>11,} B   bootstrap {size:>11,} B")
