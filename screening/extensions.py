"""Flask extensions, created unbound and initialised in :func:`screening.create_app`.

Flask-Migrate is bound when first used (:func:`screening.database.init_migrations`).
"""

from typing import TYPE_CHECKING, ClassVar

from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

if TYPE_CHECKING:

    class Model(Base):
        """What a type checker sees of db.Model, which Flask-SQLAlchemy makes at run time
        (a subclass of Base that adds the query property and table names): Base, with the
        Table every model has."""

        __abstract__ = True
        __table__: ClassVar[Table]

else:
    Model = db.Model
csrf = CSRFProtect()
