"""What users told us about the model's readings, kept in an SQLite file or a PostgreSQL database.

Every answer holds the 28x28 input the model saw, the original crop of the drawing
or photo, what the model read, what the digit really is, the ten probabilities,
the model version, the time (UTC) and where it came from ("draw" or "photo"), the
handwriting profile of the visitor who gave it, and the operator's review ("accepted"
for training, "rejected", or none yet).

A store opened ``for_profile(name)`` reads, counts, exports and deletes only that
profile's answers, and stores new ones under it: what the pages use, so no visitor
sees or changes another's digits. The plain store sees all: the operator's view and
training (which takes only accepted answers, ``training_split``).

Where the answers are is ``MNIST_FEEDBACK_DB`` (or ``FeedbackStore(location)``): a file
path (the default, ``feedback.sqlite3`` in the repository root) for one embedded SQLite
file, or a ``postgresql://user:password@host:port/database`` URL for a database several
app servers share. Errors reach the caller as ``FeedbackStoreError``, a message fit to
show a user (a locked, read-only or corrupt file, a server that cannot be reached, a
wrong password, a database that does not exist), never with a password in it.

The package, one thing per file: ``answers`` (one answer, and checking what goes in),
``schema`` (the table and its migrations), ``sqlite`` and ``postgres`` (the two
databases), ``store`` (the store itself).
"""

from mnist_app.feedback.answers import (PENDING, REVIEWS, SOURCES, Answer, FeedbackStoreError, check_profile,
                                        image_to_uint8, png_bytes)
from mnist_app.feedback.schema import SCHEMA_VERSION
from mnist_app.feedback.store import (BUSY_TIMEOUT_S, DB_ENV, DEFAULT_DB_PATH, IDX_IMAGES_NAME, IDX_LABELS_NAME,
                                      FeedbackStore, default_db_path, is_database_url, training_split)

__all__ = ["Answer", "BUSY_TIMEOUT_S", "DB_ENV", "DEFAULT_DB_PATH", "FeedbackStore", "FeedbackStoreError",
           "IDX_IMAGES_NAME", "IDX_LABELS_NAME", "PENDING", "REVIEWS", "SCHEMA_VERSION", "SOURCES", "check_profile",
           "default_db_path", "image_to_uint8", "is_database_url", "png_bytes", "training_split"]
