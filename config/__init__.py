"""Configuration: the one `Settings` object (see `settings`), the roles and contacts it names."""

from .settings import PROMOTE_TOLERANCE, Contact, Contacts, Paths, Role, Settings

__all__ = ["PROMOTE_TOLERANCE", "Contact", "Contacts", "Paths", "Role", "Settings"]
