"""Flask extensions, created unbound and initialised in :func:`screening.create_app`.

Flask-Migrate is bound when first used (:func:`screening.database.init_migrations`).
"""

from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
