"""Database: tortoise-orm models, configuration and migrations."""
