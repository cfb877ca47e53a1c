"""Conversations and progress kept as persisted state machines (transitions): surveys in
chat, stamp cards, lesson progress. Each is a database row; the machine is rebuilt from it
on every event, so nothing lives only in memory."""
